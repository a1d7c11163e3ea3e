// pydata-sphinx-theme 0.20 (and sphinx-book-theme 1.4 on top of it) attach their sidebar-toggle
// handlers to the first .primary-toggle / .secondary-toggle of the page only: the one in the
// theme's own header bar, which the book layout hides. The visible buttons are the later ones,
// in the article header. Hand their clicks to the first, so the menu opens on narrow screens
// and the sidebar collapses on wide ones.
document.addEventListener("DOMContentLoaded", () => {
  for (const kind of ["primary", "secondary"]) {
    const [wired, ...others] = document.querySelectorAll(`.${kind}-toggle`);
    for (const button of others) {
      button.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        wired.click();
      });
    }
  }
});
