// Node.js reference for `lago bench fanout`: a plain Socket.IO v4 room broadcast.
//
// The twin of ../baseline_sio.py, so the load client measures all three servers the same way:
// every client that sends `channel:join` enters the room `all`; a `send` event from the sender is
// broadcast to the room as a `channel:event` shaped like Lago's chat event, and acknowledged with
// {ok: true, seq}. No authentication (the handshake's auth is ignored), no persistence, WebSocket
// transport only, no per-message compression (socket.io's default), one process.
//
// Run: node server.js --port P [--host 127.0.0.1]  (socket.io from the pinned package-lock.json,
// installed by lago_bench/nodeinstall.py into .lago-local/bench-node/).
"use strict";

const http = require("http");
const { Server } = require("socket.io");

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const host = option("--host", "127.0.0.1");
const port = Number(option("--port", ""));
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: node server.js --port P [--host H]");
  process.exit(2);
}

const ROOM = "all";
const server = http.createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"ok":true}');
    return;
  }
  // socket.io answers its own path before this handler; anything else is not ours.
  res.writeHead(404);
  res.end();
});

const io = new Server(server, { transports: ["websocket"], serveClient: false });
let seq = 0;

io.on("connection", (socket) => {
  socket.on("channel:join", (data, ack) => {
    socket.join(ROOM);
    if (typeof ack === "function") ack({ ok: true });
  });
  socket.on("send", (data, ack) => {
    if (data === null || typeof data !== "object" || Array.isArray(data)) {
      if (typeof ack === "function") ack({ ok: false });
      return;
    }
    seq += 1;
    const event = {
      community_id: data.community_id,
      seq: seq,
      type: "chat.message",
      data: {
        user_id: socket.id,
        name: "bench-00000",
        client_msg_id: data.client_msg_id,
        text: data.text,
      },
      at: new Date().toISOString(),
    };
    io.to(ROOM).emit("channel:event", event);
    if (typeof ack === "function") ack({ ok: true, seq: seq });
  });
});

function stop() {
  io.close();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

server.listen(port, host, () => {
  console.log(`baseline Node.js socket.io on http://${host}:${port}`);
});
