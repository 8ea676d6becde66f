// The peer of `scripts/bench_collab --peer hocuspocus`: @hocuspocus/server 4.7.0 with its
// defaults (no extensions, so nothing is stored; updates of one event-loop turn are merged
// into one broadcast, flushDelay 0), on 127.0.0.1:<port>. Only the idle timeout is raised so
// that observers, which never send, stay connected for a whole scenario.
import { Server } from "@hocuspocus/server";

const port = Number(process.argv[2]);
const server = new Server({ port, address: "127.0.0.1", quiet: true, timeout: 600_000 });
await server.listen();
console.log(`listening on 127.0.0.1:${port}`);
