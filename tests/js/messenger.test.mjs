// The messenger (web/messenger.js) between a page and a worker, with both ends in one process: a pair of
// EventTargets stands in for the Worker and its global scope, messages cloned as the browser clones them.
import assert from "node:assert/strict";
import { test } from "node:test";

import { answer, messenger } from "../../web/messenger.js";

// A worker and its scope joined like the real pair: what one posts, the other receives as a "message" event.
function pair() {
  const scope = new EventTarget();
  const worker = new EventTarget();
  const deliver = (target, data) =>
    queueMicrotask(() => target.dispatchEvent(Object.assign(new Event("message"), { data: structuredClone(data) })));
  scope.postMessage = (data) => deliver(worker, data);
  worker.postMessage = (data) => deliver(scope, data);
  worker.terminated = false;
  worker.terminate = () => (worker.terminated = true);
  return { scope, worker };
}

test("each request gets its own answer, by id, in whatever order they come", async () => {
  const { scope, worker } = pair();
  answer(scope, {
    double: ({ x }) => 2 * x,
    slow: ({ x }) => new Promise((resolve) => setTimeout(() => resolve(x), 20)),
  });
  const page = messenger(() => worker);
  const [slow, quick] = await Promise.all([page.ask("slow", { x: "late" }), page.ask("double", { x: 21 })]);
  assert.equal(slow, "late");
  assert.equal(quick, 42);
  assert.equal(page.pending(), 0);
});

test("an error is one sentence, rejected to the request that caused it only", async () => {
  const { scope, worker } = pair();
  answer(scope, {
    fail: () => {
      throw Object.assign(new Error("the model file is not JSON"), { unreachable: true });
    },
    ok: () => "fine",
  }, (error) => `Error: ${error.message}`);
  const page = messenger(() => worker);
  const failing = page.ask("fail");
  assert.equal(await page.ask("ok"), "fine");
  await assert.rejects(failing, (error) => error.message === "Error: the model file is not JSON" && error.unreachable);
  await assert.rejects(page.ask("no-such"), /there is no action "no-such"/);
});

test("progress reaches its request; news without an id goes to onNews", async () => {
  const { scope, worker } = pair();
  answer(scope, {
    work: async (request, progress) => {
      scope.postMessage({ type: "status", text: "loading" }); // news, as Python's start sends
      progress(0.5);
      progress(1);
      return "done";
    },
  });
  const news = [];
  const seen = [];
  const page = messenger(() => worker, { onNews: (data) => news.push(data) });
  assert.equal(await page.ask("work", {}, { onProgress: (p) => seen.push(p) }), "done");
  assert.deepEqual(seen, [0.5, 1]);
  assert.deepEqual(news, [{ type: "status", text: "loading" }]);
});

test("tell gets no answer, and reaches only a worker already running", async () => {
  const { scope, worker } = pair();
  const told = [];
  answer(scope, { pause: (request) => told.push(request.action) });
  let made = 0;
  const page = messenger(() => (made++, worker));
  page.tell("pause");
  assert.equal(made, 0);
  page.start();
  page.tell("pause");
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(told, ["pause"]);
  assert.equal(made, 1);
});

test("stop ends the worker, rejects what is pending and the next request starts a new one", async () => {
  const first = pair();
  const second = pair();
  answer(first.scope, { hang: () => new Promise(() => {}) });
  answer(second.scope, { hello: () => "again" });
  const workers = [first.worker, second.worker];
  const page = messenger(() => workers.shift());
  const hanging = page.ask("hang");
  page.stop(Object.assign(new Error("cancelled"), { cancelled: true }));
  await assert.rejects(hanging, (error) => error.cancelled === true);
  assert.ok(first.worker.terminated);
  assert.equal(await page.ask("hello"), "again");
});

test("a worker that fails rejects what is pending and says so once", async () => {
  const { worker } = pair();
  const crashes = [];
  const page = messenger(() => worker, { onCrash: (message) => crashes.push(message) });
  const pending = page.ask("anything");
  worker.dispatchEvent(Object.assign(new Event("error"), { message: "worker.js: SyntaxError" }));
  await assert.rejects(pending, /worker\.js: SyntaxError/);
  assert.deepEqual(crashes, ["worker.js: SyntaxError"]);
  assert.equal(page.pending(), 0);
});
