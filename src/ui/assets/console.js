// alertdesk console: live updates without a manual reload. A <main data-live="ms"> is fetched again
// every so often and its content replaced by the server's (escaped) rendering; nothing else runs.
const main = document.querySelector("main[data-live]");
if (main) {
  const every = Number(main.getAttribute("data-live")) || 5000;
  const refresh = async () => {
    // Not while someone types into a form of the page, nor while the page is hidden.
    if (document.hidden || (main.contains(document.activeElement) && document.activeElement !== main)) return;
    try {
      const res = await fetch(location.href, { headers: { "X-Alertdesk-Live": "1" }, credentials: "same-origin" });
      if (!res.ok) return;
      const text = await res.text();
      const next = new DOMParser().parseFromString(text, "text/html").querySelector("main");
      if (next) {
        main.replaceChildren(...next.childNodes);
        main.setAttribute("data-updated", new Date().toISOString());
      }
    } catch {
      // The service is restarting or the network is away: the next round tries again.
    }
  };
  setInterval(refresh, every);
}
