#!/usr/bin/env python3
"""Run a papermap map page's self-check in headless Chromium in real time, over the DevTools pipe.

    python3 benches/baselines/map_selfcheck.py PAGE.html [--query quasar] [--canvas]
        [--expected PAGE.html.expected.json]

Prints the page's self-check JSON (hit_ids shortened) and the wall time. Unlike
`--dump-dom --virtual-time-budget`, nothing runs on virtual time here, so `first_render_ms` is
real. --canvas starts Chromium without WebGL (the page's Canvas2D fallback). --expected compares
with what make_map_page.py wrote and exits 1 on a mismatch.

Protocol (what a std-only Rust test could do the same way): start Chromium with
`--remote-debugging-pipe`; it reads commands from fd 3 and writes replies/events to fd 4, each a
JSON text followed by one NUL byte. Then
  1. {"id":1,"method":"Target.getTargets"}  -> the "page" target's targetId (retry until present)
  2. {"id":2,"method":"Target.attachToTarget","params":{"targetId":T,"flatten":true}} -> sessionId
  3. every 200 ms: {"id":N,"sessionId":S,"method":"Runtime.evaluate","params":{"expression":
     "window.papermapSelfCheck ? JSON.stringify(window.papermapSelfCheck) : ''",
     "returnByValue":true}}  -> result.result.value, non-empty once the self-check is done
  4. {"id":M,"method":"Browser.close"}
Replies carry the request id; other messages (events) can be skipped.
"""
import argparse
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time


class Pipe:
    def __init__(self, write_fd, read_fd):
        self.w, self.r, self.buf, self.next_id = write_fd, read_fd, b"", 0

    def call(self, method, params=None, session=None, timeout=60):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while time.time() < deadline:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply["result"]
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self.buf += chunk
        raise TimeoutError(method)


def run(page, query, canvas, timeout):
    chrome_in_r, chrome_in_w = os.pipe()    # we write, Chromium reads on fd 3
    chrome_out_r, chrome_out_w = os.pipe()  # Chromium writes on fd 4, we read

    def child_fds():
        # The pipes may themselves sit on fds 3/4: move them out of the way first.
        r, w = fcntl.fcntl(chrome_in_r, fcntl.F_DUPFD, 10), fcntl.fcntl(chrome_out_w, fcntl.F_DUPFD, 10)
        os.dup2(r, 3)
        os.dup2(w, 4)

    gpu = ["--disable-gpu", "--disable-webgl"] if canvas else \
        ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
    url = "file://" + os.path.abspath(page) + "#selfcheck=" + query
    with tempfile.TemporaryDirectory() as profile:
        cmd = [os.environ.get("CHROMIUM", "chromium"), "--headless", "--no-sandbox", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", "--window-size=1400,1000", *gpu,
               f"--user-data-dir={profile}", "--remote-debugging-pipe", url]
        start = time.time()
        proc = subprocess.Popen(cmd, preexec_fn=child_fds, close_fds=False,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(chrome_in_r)
        os.close(chrome_out_w)
        pipe = Pipe(chrome_in_w, chrome_out_r)
        try:
            target = None
            while target is None and time.time() - start < timeout:
                pages = [t for t in pipe.call("Target.getTargets")["targetInfos"] if t["type"] == "page"]
                target = pages[0]["targetId"] if pages else time.sleep(0.1)
            session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            expr = "window.papermapSelfCheck ? JSON.stringify(window.papermapSelfCheck) : ''"
            while time.time() - start < timeout:
                r = pipe.call("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session)
                value = r.get("result", {}).get("value")
                if value:
                    return json.loads(value), time.time() - start
                time.sleep(0.2)
            raise TimeoutError("no self-check result")
        finally:
            try:
                pipe.call("Browser.close", timeout=10)
            except Exception:
                pass
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def compare(got, exp):
    checks = {
        "points": got["points"] == exp["n"] and got["drawn"] == exp["n"],
        "hit_count": got["hit_count"] == exp["hit_count"],
        "hit_ids": exp["hit_ids"] is None or got["hit_ids"] == exp["hit_ids"],
        "count_text": got["count_text"] == exp["count_text"],
        "tooltip": got["hover"]["tooltip"] == exp["title0"],
        "opened": got["opened"] == exp["opened0"],
        "toggle": got["visible_after_toggle"] == exp["n"] - exp["topic0_size"]
        and got["visible_after_untoggle"] == exp["n"],
        "labels": got["labels_initial"]["overlaps"] == 0 and got["labels_zoomed"]["overlaps"] == 0,
        "added": got["added_highlighted"] == exp["added"],
    }
    return [name for name, ok in checks.items() if not ok]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("page")
    p.add_argument("--query", default="quasar")
    p.add_argument("--canvas", action="store_true")
    p.add_argument("--expected")
    p.add_argument("--timeout", type=float, default=120)
    a = p.parse_args()
    got, wall = run(a.page, a.query, a.canvas, a.timeout)
    shown = dict(got)
    if isinstance(shown.get("hit_ids"), list) and len(shown["hit_ids"]) > 5:
        shown["hit_ids"] = shown["hit_ids"][:5] + [f"... {len(got['hit_ids'])} in all"]
    print(json.dumps(shown, ensure_ascii=False))
    print(f"wall {wall:.1f} s (Chromium start to self-check read), "
          f"page {os.path.getsize(a.page) / 1e6:.1f} MB", file=sys.stderr)
    if "error" in got:
        sys.exit(1)
    if a.expected:
        bad = compare(got, json.load(open(a.expected)))
        print("mismatch: " + ", ".join(bad) if bad else "all as expected", file=sys.stderr)
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
