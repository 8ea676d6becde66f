"""The commands a person types. A package so that `python -m scripts.<module>` and the tests
import the same code (`scripts.cluster_lib` is shared by `scripts/cluster` and the fixtures)."""
