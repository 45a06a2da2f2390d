// Requests to a Web Worker, one id each: ask() gives a promise; the worker answers {id, result}, {id, error}
// or, meanwhile, {id, progress}. A message with no pending id is news (onNews). Tests: tests/js/.

// The page's side. A worker that fails rejects what is pending and is made anew; stop() ends it at once.
export function messenger(start, { onNews = () => {}, onCrash = () => {} } = {}) {
  let worker = null;
  let nextId = 0;
  const pending = new Map();
  const rejectAll = (error) => {
    for (const job of pending.values()) job.reject(error);
    pending.clear();
  };

  function started() {
    if (worker) return worker;
    worker = start();
    worker.addEventListener("message", ({ data }) => {
      const job = data && pending.get(data.id);
      if (!job) return onNews(data);
      if ("progress" in data) return job.onProgress?.(data.progress);
      pending.delete(data.id);
      if ("error" in data) job.reject(Object.assign(new Error(data.error), { unreachable: Boolean(data.unreachable) }));
      else job.resolve(data.result);
    });
    worker.addEventListener("error", (event) => {
      worker = null;
      rejectAll(new Error(event.message || "the worker failed"));
      onCrash(event.message || "the worker failed");
    });
    return worker;
  }

  return {
    start: started,
    ask(action, fields = {}, { transfer = [], onProgress } = {}) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject, onProgress });
        started().postMessage({ ...fields, action, id }, transfer);
      });
    },
    // an action answered with nothing (e.g. "pause"), to a worker already running
    tell: (action, fields = {}) => worker?.postMessage({ ...fields, action }),
    stop(error) {
      worker?.terminate();
      worker = null;
      rejectAll(error);
    },
    pending: () => pending.size,
  };
}

// The worker's side: the action table. An action gets the request and progress(value); what it returns is
// the result, what it throws the error (in one sentence: describe). A message without an id gets no answer.
export function answer(scope, actions, describe = (error) => String(error?.message ?? error)) {
  scope.addEventListener("message", async ({ data }) => {
    const reply = (fields) => data.id !== undefined && scope.postMessage({ id: data.id, ...fields });
    try {
      const act = actions[data.action];
      if (!act) throw new Error(`there is no action "${data.action}"`);
      reply({ result: await act(data, (progress) => reply({ progress })) });
    } catch (error) {
      reply({ error: describe(error), unreachable: Boolean(error?.unreachable) });
    }
  });
}
