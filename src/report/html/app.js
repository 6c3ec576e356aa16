// orgscan HTML report: the findings table (filters, sorting, paging) and the heatmap's region drill-down.
// No dependency, no network; data comes from the embedded JSON. Every text is set with textContent.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("orgscan-data").textContent);
  var PAGE = 200;
  var SEV = { critical: 4, high: 3, medium: 2, low: 1 };
  var form = document.getElementById("filters");
  var body = document.querySelector("#table tbody");
  var count = document.getElementById("count");
  var more = document.getElementById("more");
  var shown = PAGE;
  var sort = { key: "sev", dir: -1 };

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function option(select, value, label) {
    var o = el("option", label);
    o.value = value;
    select.appendChild(o);
  }
  function uniq(list) {
    return list.filter(function (x, i) { return x && list.indexOf(x) === i; }).sort();
  }

  uniq(D.accounts.map(function (a) { return a.ou; })).forEach(function (ou) { option(form.elements.ou, ou, ou); });
  uniq(D.findings.map(function (f) { return f.r; })).forEach(function (r) { option(form.elements.region, r, r); });

  function account(i) { return D.accounts[i]; }

  function matches(f, q) {
    var a = account(f.a);
    if (q.check !== "" && f.c !== Number(q.check)) return false;
    if (q.status && f.s !== q.status) return false;
    if (q.severity && f.sev !== q.severity) return false;
    if (q.account && (a.id + " " + a.name).toLowerCase().indexOf(q.account.toLowerCase()) < 0) return false;
    if (q.ou && a.ou !== q.ou) return false;
    if (q.region && f.r !== q.region) return false;
    if (q.new && f.b !== "new") return false;
    if (q.suppressed === "hide" && f.x) return false;
    if (q.suppressed === "only" && !f.x) return false;
    return true;
  }

  function query() {
    var e = form.elements;
    return { check: e.check.value, status: e.status.value, severity: e.severity.value, account: e.account.value.trim(),
      ou: e.ou.value, region: e.region.value, new: e["new"].checked, suppressed: e.suppressed.value };
  }

  function key(f, k) {
    if (k === "sev") return SEV[f.sev] || 0;
    if (k === "c") return D.checks[f.c].id;
    if (k === "a") return account(f.a).id;
    return f[k];
  }

  function row(f) {
    var tr = el("tr");
    var a = account(f.a);
    tr.appendChild(el("td", f.sev, "sev-" + f.sev));
    tr.appendChild(el("td", D.checks[f.c].id));
    tr.appendChild(el("td", f.s));
    var acc = el("td", a.id);
    if (a.name) acc.appendChild(el("div", a.name + (a.ou ? " · " + a.ou : ""), "sub"));
    tr.appendChild(acc);
    tr.appendChild(el("td", f.r));
    var res = el("td");
    if (f.url) {
      var link = el("a", f.id);
      link.href = f.url;
      link.rel = "noreferrer";
      link.title = "Open in the AWS console (of the account you are signed in to)";
      res.appendChild(link);
    } else {
      res.appendChild(el("span", f.id));
    }
    res.appendChild(el("div", f.t, "sub"));
    tr.appendChild(res);
    var msg = el("td", null, "msg");
    if (f.b === "new") msg.appendChild(el("span", "new", "tag new"));
    if (f.stale) msg.appendChild(el("span", "stale: not read this time", "tag stale"));
    if (f.x) msg.appendChild(el("span", "suppressed", "tag"));
    msg.appendChild(el("span", f.m));
    if (f.x) msg.appendChild(el("div", "Suppressed: " + f.x, "sub"));
    if (f.fix) msg.appendChild(el("pre", f.fix));
    tr.appendChild(msg);
    return tr;
  }

  function render() {
    var q = query();
    var rows = D.findings.filter(function (f) { return matches(f, q); });
    rows.sort(function (x, y) {
      var a = key(x, sort.key), b = key(y, sort.key);
      return (a < b ? -1 : a > b ? 1 : 0) * sort.dir || x.arn.localeCompare(y.arn);
    });
    body.textContent = "";
    var frag = document.createDocumentFragment();
    rows.slice(0, shown).forEach(function (f) { frag.appendChild(row(f)); });
    body.appendChild(frag);
    count.dataset.count = String(rows.length);
    count.textContent = rows.length + " finding(s) match" + (rows.length > shown ? "; the first " + shown + " are shown" : "");
    more.hidden = rows.length <= shown;
  }

  // "change" too: a select changed by script or by some drivers fires no "input".
  ["input", "change"].forEach(function (t) { form.addEventListener(t, function () { shown = PAGE; render(); }); });
  form.addEventListener("submit", function (e) { e.preventDefault(); });
  more.addEventListener("click", function () { shown += PAGE * 5; render(); });
  document.querySelectorAll("th button[data-sort]").forEach(function (b) {
    b.addEventListener("click", function () {
      var k = b.dataset.sort;
      sort = { key: k, dir: sort.key === k ? -sort.dir : 1 };
      document.querySelectorAll("th[aria-sort]").forEach(function (th) { th.removeAttribute("aria-sort"); });
      b.parentNode.setAttribute("aria-sort", sort.dir > 0 ? "ascending" : "descending");
      render();
    });
  });

  // The heatmap's drill-down: the regions of one account and check, and the table narrowed to them.
  var drill = document.getElementById("drill");
  document.querySelectorAll(".heat button.cell").forEach(function (b) {
    b.addEventListener("click", function () {
      var a = Number(b.dataset.a), c = Number(b.dataset.c);
      var acc = account(a);
      drill.textContent = "";
      drill.appendChild(el("h3", acc.id + (acc.name ? " (" + acc.name + ")" : "") + " · " + D.checks[c].id));
      var t = el("table");
      var head = el("tr");
      ["Region", "State", "Failing", "Passing", "Not evaluable", "Detail"].forEach(function (h) { head.appendChild(el("th", h)); });
      t.appendChild(head);
      D.scopes.filter(function (s) { return s[0] === a && s[1] === c; }).forEach(function (s) {
        var tr = el("tr");
        tr.dataset.region = s[2];
        tr.dataset.state = s[3];
        [s[2], s[3] === "gap" ? "not read" : s[3], s[5], s[4], s[6], s[7]].forEach(function (v) { tr.appendChild(el("td", v)); });
        t.appendChild(tr);
      });
      drill.appendChild(t);
      drill.hidden = false;
      form.elements.check.value = String(c);
      form.elements.account.value = acc.id;
      form.elements.status.value = "";
      shown = PAGE;
      render();
    });
  });

  // Filters from the address (#check=<id>&status=FAIL&...), so a view can be linked.
  if (location.hash.length > 1) {
    location.hash.slice(1).split("&").forEach(function (kv) {
      var p = kv.split("=");
      var k = decodeURIComponent(p[0]), v = decodeURIComponent(p[1] || "");
      var e = form.elements[k];
      if (!e) return;
      if (k === "check") v = String(D.checks.findIndex(function (c) { return c.id === v; }));
      if (e.type === "checkbox") e.checked = v === "1" || v === "true"; else e.value = v;
    });
  }
  render();
  document.documentElement.dataset.rendered = "true";
  if (window.performance && performance.mark) performance.mark("orgscan-rendered");
})();
