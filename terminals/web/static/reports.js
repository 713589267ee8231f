// The report pages' print button: the browser's print dialog (the print stylesheet fits A4).
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
