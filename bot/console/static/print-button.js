// A "打印" button ([data-print]) opens the browser's print dialog; without scripts, Ctrl+P does the same.
document.querySelectorAll("[data-print]").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
});
