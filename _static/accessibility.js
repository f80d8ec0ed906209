// The theme's colour-mode button lets the keyboard focus fall back to the page when it is
// pressed, so that a second press of Enter, to go on to the next mode, does nothing, and a
// keyboard user must find the button again from the top of the page (WCAG 2.4.3, focus
// order). Give the focus back to the button.
document.addEventListener("click", (event) => {
  const button = event.target.closest?.(".theme-switch-button");
  if (button) {
    requestAnimationFrame(() => button.focus());
  }
});
