// The REST half of the contract (PROTOCOL.md, "REST"). Errors come back as ApiError with the
// server's `{"error": {"code", "message"}}` body, or a network/unknown code when there was none.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

async function request(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, "network", `Could not reach the Pairpad server (${err.message}).`);
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (!response.ok) {
    const error = payload && payload.error;
    throw new ApiError(
      response.status,
      (error && error.code) || "http_error",
      (error && error.message) || `The server answered ${response.status} ${response.statusText}.`,
    );
  }
  return payload;
}

export function createRoom(name) {
  return request("POST", "/rooms", name ? { name, language: "python" } : { language: "python" });
}

export function getRoom(roomId) {
  return request("GET", `/rooms/${encodeURIComponent(roomId)}`);
}
