// The official socket.io-client playing a resident's app against a Lago real-time node.
//
//   node conformance.mjs <url> <token> <community_id> [websocket|polling]
//   (or LAGO_URL, LAGO_TOKEN, LAGO_COMMUNITY_ID, LAGO_TRANSPORT)
//
// socket.io-client is resolved from NODE_PATH (tests/test_js_client.py installs it under
// .lago-local/js-client/, see lago_bench/nodeinstall.py) or from a node_modules beside this file.
//
// One JSON line per step on stdout: {"step": ..., "ok": true|false, ...}. The exit status is
// non-zero on the first mismatch. Where another member must act, the script prints a step with
// "waiting": true and reads one JSON line from stdin that says what that member did:
//   {"step": "ready_for_peer", "waiting": true}   <- {"sent": {"seq", "client_msg_id", "text"}}
//   {"step": "away", "waiting": true, ...}         <- {"missed": [seq, ...]}
// Every wait is bounded (WAIT_MS); the whole run by TOTAL_MS.

import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const require = createRequire(import.meta.url);
const { io } = require("socket.io-client");
const clientVersion = require("socket.io-client/package.json").version;

const WAIT_MS = 10_000;
const TOTAL_MS = 60_000;

const [url, token, communityId, transport] = [
  process.argv[2] ?? process.env.LAGO_URL,
  process.argv[3] ?? process.env.LAGO_TOKEN,
  process.argv[4] ?? process.env.LAGO_COMMUNITY_ID,
  process.argv[5] ?? process.env.LAGO_TRANSPORT ?? "websocket",
];

function report(step, ok, fields = {}) {
  process.stdout.write(JSON.stringify({ step, ok, ...fields }) + "\n");
}

class Mismatch extends Error {
  constructor(step, message, fields = {}) {
    super(message);
    this.step = step;
    this.fields = fields;
  }
}

function check(step, condition, message, fields = {}) {
  if (!condition) throw new Mismatch(step, message, fields);
}

if (!url || !token || !communityId || !["websocket", "polling"].includes(transport)) {
  report("arguments", false, { error: "usage: conformance.mjs <url> <token> <community_id> [websocket|polling]" });
  process.exit(2);
}

const overall = setTimeout(() => {
  report("overall", false, { error: `the run took longer than ${TOTAL_MS} ms` });
  process.exit(3);
}, TOTAL_MS);

// stdin: one JSON line per handshake, taken in order.
const lines = [];
const lineWaiters = [];
createInterface({ input: process.stdin }).on("line", (line) => {
  const waiter = lineWaiters.shift();
  if (waiter) waiter(line);
  else lines.push(line);
});

function nextLine(step) {
  if (lines.length) return Promise.resolve(JSON.parse(lines.shift()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Mismatch(step, `no instruction on stdin within ${WAIT_MS} ms`)),
      WAIT_MS,
    );
    lineWaiters.push((line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line));
    });
  });
}

// Channel events as they arrive; waiters are re-checked on each one.
const events = [];
let eventWaiters = [];

function onEvent(event) {
  events.push(event);
  eventWaiters = eventWaiters.filter((w) => !w());
}

function waitFor(step, predicate, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Mismatch(step, `${what} did not arrive within ${WAIT_MS} ms`)),
      WAIT_MS,
    );
    const attempt = () => {
      const found = events.find(predicate);
      if (found === undefined) return false;
      clearTimeout(timer);
      resolve(found);
      return true;
    };
    if (!attempt()) eventWaiters.push(attempt);
  });
}

function connect(step, options = {}) {
  const socket = io(url, {
    transports: [transport],
    upgrade: false,
    auth: { token },
    reconnection: false,
    timeout: WAIT_MS,
    forceNew: true,
    ...options,
  });
  socket.on("channel:event", onEvent);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => {
      socket.close();
      // engine.io-client puts the HTTP status (polling) or the ws error (WebSocket) here.
      const cause = err.description?.message ?? err.description ?? null;
      reject(new Mismatch(step, `connect_error: ${err.message}`, { data: err.data ?? null, cause: cause === null ? null : String(cause) }));
    });
  });
}

async function call(socket, step, event, ...args) {
  try {
    return await socket.timeout(WAIT_MS).emitWithAck(event, ...args);
  } catch (err) {
    throw new Mismatch(step, `no acknowledgement of ${event}: ${err.message}`);
  }
}

function expectError(step, reply, code) {
  check(step, reply && reply.ok === false && reply.error?.code === code, `expected ${code}`, { reply });
  check(step, typeof reply.error.message === "string", "error without a message", { reply });
}

async function run() {
  // 1. Connect to `/` with the token, over the one transport asked for.
  let socket = await connect("connect");
  const engineTransport = socket.io.engine.transport.name;
  check("connect", engineTransport === transport, `connected over ${engineTransport}`);
  report("connect", true, { transport: engineTransport, client: clientVersion, id: socket.id });

  // 2. A foreign Origin is refused at the handshake; a Node client sends none by default.
  try {
    const stranger = await connect("foreign_origin", { extraHeaders: { Origin: "https://evil.example" } });
    stranger.close();
    throw new Mismatch("foreign_origin", "a handshake from a foreign Origin was accepted");
  } catch (err) {
    if (!(err instanceof Mismatch) || !err.message.startsWith("connect_error")) throw err;
    report("foreign_origin", true, { refused: err.message, cause: err.fields.cause });
  }

  // 3. Join with an acknowledgement: a first join carries a snapshot.
  const joined = await call(socket, "join", "channel:join", { community_id: communityId });
  check("join", joined?.ok === true, "join refused", { reply: joined });
  check("join", joined.community_id === communityId && joined.role === "member", "wrong join", { reply: joined });
  check("join", typeof joined.epoch === "string" && Number.isInteger(joined.seq), "no epoch/seq", { reply: joined });
  check("join", joined.snapshot && Array.isArray(joined.snapshot.chat?.recent), "no snapshot", { reply: joined });
  const epoch = joined.epoch;
  report("join", true, { seq: joined.seq, epoch, online: joined.snapshot.presence.count });

  // 4. chat:send: acknowledged with its seq, and arrives as a channel event to the sender too.
  const mine = `js-${transport}-${Date.now()}`;
  const sent = await call(socket, "send", "chat:send", { community_id: communityId, client_msg_id: mine, text: "有人要乐高吗？🧱" });
  check("send", sent?.ok === true && Number.isInteger(sent.seq) && sent.duplicate === false, "send refused", { reply: sent });
  check("send", sent.seq > joined.seq, "seq not after the join's", { reply: sent });
  const own = await waitFor("send", (e) => e.seq === sent.seq, "the own message's channel event");
  check("send", own.type === "chat.message" && own.data.client_msg_id === mine, "wrong event", { event: own });
  check("send", own.data.text === "有人要乐高吗？🧱" && own.epoch === epoch, "text or epoch changed", { event: own });
  check("send", own.community_id === communityId && typeof own.at === "string", "event fields", { event: own });
  report("send", true, { seq: sent.seq });

  // 5. The same client_msg_id again: stored once, the same seq.
  const again = await call(socket, "resend", "chat:send", { community_id: communityId, client_msg_id: mine, text: "有人要乐高吗？🧱" });
  check("resend", again?.ok === true && again.seq === sent.seq && again.duplicate === true, "resend not idempotent", { reply: again });
  report("resend", true, { seq: again.seq });

  // 6. An event sent without an acknowledgement still runs (a `42[...]` frame with no ack id).
  const quiet = `${mine}-noack`;
  socket.emit("chat:send", { community_id: communityId, client_msg_id: quiet, text: "不用回执" });
  const quietEvent = await waitFor("send_without_ack", (e) => e.data?.client_msg_id === quiet, "the unacknowledged message");
  report("send_without_ack", true, { seq: quietEvent.seq });

  // 7. Another member's message arrives as a channel event.
  report("ready_for_peer", true, { waiting: true });
  const peer = (await nextLine("peer_message")).sent;
  const theirs = await waitFor("peer_message", (e) => e.seq === peer.seq, "the other member's message");
  check("peer_message", theirs.type === "chat.message" && theirs.data.client_msg_id === peer.client_msg_id, "wrong event", { event: theirs });
  check("peer_message", theirs.data.text === peer.text && theirs.data.user_id !== own.data.user_id, "wrong text or sender", { event: theirs });
  report("peer_message", true, { seq: theirs.seq });

  // 8. An event nobody serves is answered unknown_event, naming it.
  const unknown = await call(socket, "unknown_event", "chat:shout", { community_id: communityId });
  expectError("unknown_event", unknown, "unknown_event");
  check("unknown_event", unknown.error.details?.event === "chat:shout", "details.event", { reply: unknown });
  report("unknown_event", true);

  // 9. Wrong JSON types are refused, not converted.
  const badType = await call(socket, "invalid_input", "chat:send", { community_id: communityId, client_msg_id: 5, text: "x" });
  expectError("invalid_input", badType, "invalid_input");
  const badLimit = await call(socket, "invalid_input", "chat:history", { community_id: communityId, limit: "5" });
  expectError("invalid_input", badLimit, "invalid_input");
  const notObject = await call(socket, "invalid_input", "channel:join", [communityId]);
  expectError("invalid_input", notObject, "invalid_input");
  const twoArgs = await call(socket, "invalid_input", "channel:join", { community_id: communityId }, { extra: 1 });
  expectError("invalid_input", twoArgs, "invalid_input");
  report("invalid_input", true);

  // 10. Text that cannot be stored (a lone surrogate, which JSON.stringify escapes): invalid_text.
  const lone = await call(socket, "invalid_text", "chat:send", { community_id: communityId, client_msg_id: `${mine}-lone`, text: "坏\ud800字" });
  expectError("invalid_text", lone, "invalid_text");
  check("invalid_text", lone.error.details?.[0]?.field === "text", "details name the field", { reply: lone });
  const oddName = await call(socket, "invalid_text", "chat:\ud800", { community_id: communityId });
  expectError("invalid_text", oddName, "unknown_event");
  check("invalid_text", oddName.error.details?.event === "chat:\ud800", "the name comes back as sent", { reply: oddName });
  report("invalid_text", true);

  // 11. Binary data in a payload (socket.io sends it as attachments) is not a JSON type we take.
  const binary = await call(socket, "binary", "chat:send", { community_id: communityId, client_msg_id: `${mine}-bin`, text: Buffer.from("二进制") });
  expectError("binary", binary, "invalid_input");
  report("binary", true);

  // 12. Disconnect, remembering the last seq processed and the epoch.
  const last = Math.max(joined.seq, ...events.map((e) => e.seq));
  const gone = new Promise((resolve) => socket.once("disconnect", resolve));
  socket.disconnect();
  await gone;
  report("away", true, { waiting: true, seq: last, epoch });
  const missed = (await nextLine("recover")).missed;

  // 13. Reconnect and join with `since`: recovered, with every event missed, in order.
  socket = await connect("reconnect");
  report("reconnect", true, { transport: socket.io.engine.transport.name, id: socket.id });
  const before = events.length;
  const back = await call(socket, "recover", "channel:join", { community_id: communityId, since: { seq: last, epoch } });
  check("recover", back?.ok === true && back.recovered === true, "not recovered", { reply: { ...back, events: undefined } });
  check("recover", back.epoch === epoch && Array.isArray(back.events), "epoch or events", { reply: { ...back, events: undefined } });
  const recovered = [...back.events];
  let more = back.more;
  let pages = 1;
  while (more) {
    const from = recovered.length ? recovered[recovered.length - 1].seq : last;
    const page = await call(socket, "recover", "channel:recover", { community_id: communityId, since: { seq: from, epoch } });
    check("recover", page?.ok === true && page.recovered === true && page.events.length > 0, "page refused", { reply: { ...page, events: undefined } });
    recovered.push(...page.events);
    more = page.more;
    pages += 1;
    check("recover", pages <= 50, "more pages than a recovery can have");
  }
  const seqs = recovered.map((e) => e.seq);
  check("recover", seqs.every((s, i) => s > last && (i === 0 || s > seqs[i - 1])), "seqs not increasing past since", { seqs });
  const chat = recovered.filter((e) => e.type === "chat.message").map((e) => e.seq);
  check("recover", JSON.stringify(chat) === JSON.stringify(missed), "missed messages differ", { got: chat, missed });
  report("recover", true, { pages, events: recovered.length, messages: chat.length, live_meanwhile: events.length - before });

  // 14. Live again after recovering.
  const after = await call(socket, "live_again", "chat:send", { community_id: communityId, client_msg_id: `${mine}-back`, text: "回来了" });
  check("live_again", after?.ok === true && after.seq > Math.max(...seqs, last), "send after recovery", { reply: after });
  await waitFor("live_again", (e) => e.seq === after.seq, "the message after recovery");
  report("live_again", true, { seq: after.seq });
  socket.disconnect();
}

try {
  await run();
  clearTimeout(overall);
  report("done", true);
  process.exit(0);
} catch (err) {
  if (err instanceof Mismatch) report(err.step, false, { error: err.message, ...err.fields });
  else report("crash", false, { error: String(err?.stack ?? err) });
  process.exit(1);
}
