// What the theme's scripts need for keyboard and speech users (WCAG 2.1 AA); the browser
// tests (tests/test_browser.py, tests/test_accessibility.py) hold the pages to it.

// The colour-mode button lets the keyboard focus fall back to the page when it is pressed,
// so that a second press of Enter, to go on to the next mode, does nothing, and a keyboard
// user must find the button again from the top of the page (WCAG 2.4.3, focus order). Give
// the focus back to the button.
document.addEventListener("click", (event) => {
  const button = event.target.closest?.(".theme-switch-button");
  if (button) {
    requestAnimationFrame(() => button.focus());
  }
});

// Label in name (WCAG 2.5.3): a speech user says what a control shows to press it, so its
// accessible name must hold its visible text.
// - The colour-mode button is named "Color mode" but shows the icon of the mode it is in,
//   titled "Light", "Dark" or "System Settings": name it by both, following the mode.
// - The search button is named "Search" but shows "Search Ctrl+K": without its label it is
//   named by what it shows, whichever modifier the theme writes for the reader's system.
function nameTheControls() {
  const mode = document.documentElement.dataset.mode || "auto";
  for (const button of document.querySelectorAll(".theme-switch-button")) {
    // an <i title="Light">, until Font Awesome makes it an <svg> holding <title>Light</title>
    const icon = button.querySelector(`.theme-switch[data-mode="${mode}"]`);
    const title = icon?.getAttribute("title") || icon?.querySelector("title")?.textContent;
    button.setAttribute("aria-label", `Color mode: ${title || mode}`);
  }
  for (const button of document.querySelectorAll("button.search-button-field")) {
    button.removeAttribute("aria-label");
    button.setAttribute("aria-keyshortcuts", "Control+K Meta+K");
  }
}
document.addEventListener("DOMContentLoaded", () => {
  nameTheControls();
  new MutationObserver(nameTheControls).observe(document.documentElement, {
    attributes: true,
    attributeFilter: ["data-mode"],
  });
});
