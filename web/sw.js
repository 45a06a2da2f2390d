// Service worker: keeps the site's files in a cache after the first visit, so the page works
// with no network. The build fills in the files cached at install (all but the models other
// than the default, which are cached the first time they are selected, and the Train panel's data,
// cached the first time it trains) and a version derived
// from the files' contents; a new version replaces the old cache.

const VERSION = "__VERSION__";
const FILES = __FILES__;
const CACHE = `digitnet-${VERSION}`;
// fetched only when needed, then kept: the models other than the default, the Train panel's MNIST subset
const ON_DEMAND = /\/(models\/[^/]+|data\/book-mnist\.npz)$/;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(FILES))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("digitnet-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const cached = await cache.match(request, { ignoreSearch: true });
      if (cached) return cached;
      const response = await fetch(request);
      if (response.ok && ON_DEMAND.test(new URL(request.url).pathname)) await cache.put(request, response.clone());
      return response;
    }),
  );
});
