"""Opens a static page in a real headless Chromium (Debian's ``chromium`` + ``chromium-driver``).

``page_report(path)`` loads the page from ``file://``, waits until every ``<audio>`` element has
its metadata (or failed) and every image has loaded (or failed), and returns what a person would
have met: console errors, each audio element's source and ``duration``, each image's natural
size, the width it is shown at (``shown_width``, CSS px) and the link around it (``link``).
``skip_reason()`` says why a browser test cannot run here (``None`` when it can).
"""

from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = "chromedriver"
WINDOW = "1400,1000"  # a laptop's browser window (CSS px): what ``shown_width`` is measured in

_WAIT_FOR_MEDIA = """
const done = arguments[arguments.length - 1];
const audios = Array.from(document.querySelectorAll('audio'));
const images = Array.from(document.querySelectorAll('img'));
const settled = (el, ok, bad) => new Promise(resolve => {
  if (ok(el)) return resolve();
  el.addEventListener(bad, resolve, {once: true});
  el.addEventListener(el.tagName === 'AUDIO' ? 'loadedmetadata' : 'load', resolve, {once: true});
});
Promise.all([
  ...audios.map(a => { a.load(); return settled(a, x => x.readyState >= 1, 'error'); }),
  ...images.map(i => settled(i, x => x.complete, 'error')),
]).then(() => done({
  audio: audios.map(a => ({src: a.currentSrc, duration: a.duration,
                           error: a.error ? a.error.code : null})),
  images: images.map(i => ({src: i.currentSrc, width: i.naturalWidth, height: i.naturalHeight,
                            shown_width: i.getBoundingClientRect().width,
                            link: i.closest('a') ? i.closest('a').href : null})),
}));
"""


def _binary(names) -> str | None:
  return next((p for p in map(shutil.which, names) if p), None)


def skip_reason() -> str | None:
  """Why the browser check cannot run here, or ``None``."""
  if _binary(CHROMIUM) is None or shutil.which(DRIVER) is None:
    return "no headless Chromium here (apt-get install chromium chromium-driver)"
  return None


def page_report(path: str | Path, *, timeout_s: float = 30.0) -> dict:
  """Loads ``path`` in headless Chromium; returns ``{"console_errors", "audio", "images"}``."""
  from selenium import webdriver
  from selenium.webdriver.chrome.service import Service

  options = webdriver.ChromeOptions()
  options.binary_location = _binary(CHROMIUM)
  for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--autoplay-policy=no-user-gesture-required", f"--window-size={WINDOW}"):
    options.add_argument(arg)
  options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
  driver = webdriver.Chrome(service=Service(shutil.which(DRIVER)), options=options)
  try:
    driver.set_script_timeout(timeout_s)
    driver.get(Path(path).resolve().as_uri())
    report = driver.execute_async_script(_WAIT_FOR_MEDIA)
    for a in report["audio"]:  # NaN and Infinity arrive as None
      a["duration"] = float("nan") if a["duration"] is None else float(a["duration"])
    report["console_errors"] = [e["message"] for e in driver.get_log("browser")
                                if e["level"] == "SEVERE"]
    return report
  finally:
    driver.quit()
