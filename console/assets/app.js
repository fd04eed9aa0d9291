// app.js: navigation. Routes live in the URL's fragment (#/buckets/…);
// credentials never do.
"use strict";

(function () {
  // Each view: {path: RegExp, title, nav?, need: capability, render(main, params, query, view)}.
  const routes = D.routes.sort((a, b) => (a.order || 99) - (b.order || 99));
  let current = null; // the view being shown: {timers, alive}

  // A view context: timers it starts are stopped when the user leaves.
  function newView() {
    const v = {
      alive: true, timers: [],
      every(ms, fn) { this.timers.push(setInterval(fn, ms)); },
      leave() { this.alive = false; this.timers.forEach(clearInterval); },
    };
    return v;
  }

  function parseHash() {
    const raw = location.hash.replace(/^#/, "") || "/";
    const [path, qs] = raw.split("?");
    return { path, query: new URLSearchParams(qs || "") };
  }

  function home() {
    if (!D.session.get()) return "/signin";
    if (D.can("operator")) return "/operator/cluster";
    if (D.can("admin")) return "/overview";
    return "/buckets/" + D.session.get().bucketId;
  }

  function renderNav(path) {
    const nav = document.getElementById("nav");
    const s = D.session.get();
    D.clear(nav);
    for (const r of routes) {
      if (!r.nav || !s || !D.can(r.need) || r.navHidden) continue;
      const href = typeof r.nav === "function" ? r.nav() : r.nav;
      const active = path === href.slice(1) || (r.navMatch && r.navMatch.test(path));
      nav.appendChild(D.h("a", { href, "aria-current": active ? "page" : null, dataset: { nav: r.name } }, r.title));
    }
    document.getElementById("signout").hidden = !s;
    document.getElementById("who").textContent = !s ? "" : s.kind === "operator" ? "operator" :
      s.keyType + " key " + s.secret.slice(0, 12) + "… · " + (s.orgName || s.bucketName || "");
  }

  async function route() {
    const { path, query } = parseHash();
    if (path === "/" || (!D.session.get() && path !== "/signin")) {
      location.replace("#" + (D.session.get() ? home() : "/signin"));
      return;
    }
    let match = null, params = null;
    for (const r of routes) {
      const m = r.path.exec(path);
      if (m) { match = r; params = m.slice(1).map(decodeURIComponent); break; }
    }
    const main = document.getElementById("main");
    // Redrawing the same view (after an action): keep the keyboard's place.
    const keep = current && current.path === location.hash ? D.focusPath(main) : null;
    if (current) current.leave();
    current = newView();
    current.path = location.hash;
    const view = current;
    renderNav(path);
    document.body.dataset.view = "";
    D.clear(main);
    if (!match) {
      main.appendChild(D.h("h1", null, "Not found"));
      main.appendChild(D.h("p", null, D.h("a", { href: "#" + home() }, "Go to the start")));
      document.body.dataset.view = "notfound";
      return;
    }
    if (match.need && !D.can(match.need)) {
      main.appendChild(D.h("h1", null, match.title));
      main.appendChild(D.h("p", { class: "error" }, "The credential you signed in with may not use this page."));
      document.body.dataset.view = "forbidden";
      return;
    }
    document.title = match.title + " · dakkio console";
    try {
      await match.render(main, params, query, view);
      if (view.alive) {
        D.refocus(main, keep);
        document.body.dataset.view = match.name;
      }
    } catch (e) {
      if (!view.alive) return;
      main.appendChild(D.h("p", { class: "error", role: "alert" }, "Could not load this page: " + (e.detail || e.message)));
      document.body.dataset.view = match.name + "-error";
    }
  }

  // go navigates to a console path (e.g. "/buckets"), re-rendering even
  // when it is the current one.
  D.go = function (path) {
    if (location.hash === "#" + path) route();
    else location.hash = "#" + path;
  };
  D.reload = route;

  D.onSignedOut = function (why) {
    if (why) D.toast(why, true);
    D.go("/signin");
  };

  document.getElementById("signout").addEventListener("click", () => {
    D.session.clear();
    D.go("/signin");
  });
  // The skip link moves focus past the navigation without touching the
  // fragment, which holds the route.
  document.querySelector(".skip").addEventListener("click", (e) => {
    e.preventDefault();
    document.getElementById("main").focus();
  });
  window.addEventListener("hashchange", () => {
    route();
    // Keyboard and screen-reader users start reading the new view.
    if (!document.activeElement || document.activeElement === document.body || document.activeElement.closest("#nav")) document.getElementById("main").focus();
  });
  route().finally(() => { document.body.dataset.ready = "true"; });
  D.home = home;
})();
