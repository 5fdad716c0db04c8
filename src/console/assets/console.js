// Fluency console: optional enhancements only; every page works without this script.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Ask before turning a rule off: it stops nudging people at once.
  document.querySelectorAll("form[action$='/enabled']").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var turningOff = form.querySelector("input[name='enabled']").value === "false";
      if (turningOff && !window.confirm("Disable this rule? It stops running at once.")) {
        event.preventDefault();
      }
    });
  });
  // Move focus to a form error so keyboard and screen-reader users hear it.
  var error = document.getElementById("form-error");
  if (error) {
    error.setAttribute("tabindex", "-1");
    error.focus();
  }
});
