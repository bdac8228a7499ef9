/* Guanxi tracker: viewed-product, added-to-cart, searched and identify events, no dependencies.
 * <script src="https://crm.example.com/static/guanxi.js" data-key="gxpk_…" async></script>
 * guanxi("viewed_product", {product: "SKU-1"}); guanxi("added_to_cart", {product: "SKU-1"});
 * guanxi("searched", {query: "tea"}); guanxi("identify", {email: "a@b.c", customer_id: "42"});
 */
(function (w, d) {
  "use strict";
  var script = d.currentScript || d.querySelector("script[data-key][src*='guanxi.js']");
  if (!script) return;
  var key = script.getAttribute("data-key");
  var endpoint = (script.getAttribute("data-endpoint") || new URL(script.src).origin) + "/t/" + key + "/collect";
  var queue = [], timer = null, STORE = "guanxi_aid";

  function uid() {
    if (w.crypto && w.crypto.randomUUID) return w.crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = (Math.random() * 16) | 0;
      return (c === "x" ? r : (r & 3) | 8).toString(16);
    });
  }
  function anonymousId() {
    var id = null;
    try { id = w.localStorage.getItem(STORE); } catch (e) { /* private mode */ }
    if (!id) {
      id = uid();
      try { w.localStorage.setItem(STORE, id); } catch (e) { /* private mode */ }
    }
    return id;
  }
  function flush() {
    timer = null;
    if (!queue.length) return;
    var body = JSON.stringify({ anonymous_id: anonymousId(), events: queue.splice(0, 100) });
    // text/plain: a "simple" request, no CORS pre-flight; beacons survive leaving the page.
    var blob = new Blob([body], { type: "text/plain" });
    if (!(w.navigator.sendBeacon && w.navigator.sendBeacon(endpoint, blob))) {
      w.fetch(endpoint, { method: "POST", body: body, keepalive: true, mode: "cors",
        headers: { "Content-Type": "text/plain" } }).catch(function () {});
    }
    if (queue.length) flush();
  }
  function track(type, data) {
    data = data || {};
    var event = { id: uid(), type: type, at: new Date().toISOString(), url: w.location.href };
    for (var k in data) if (Object.prototype.hasOwnProperty.call(data, k)) event[k] = data[k];
    queue.push(event);
    if (type === "identify") return flush();
    if (!timer) timer = w.setTimeout(flush, 500);
  }
  var pending = (w.guanxi && w.guanxi.q) || [];
  w.guanxi = function (type, data) { track(type, data); };
  w.guanxi.flush = flush;
  for (var i = 0; i < pending.length; i++) track(pending[i][0], pending[i][1]);
  d.addEventListener("visibilitychange", function () { if (d.visibilityState === "hidden") flush(); });
})(window, document);
