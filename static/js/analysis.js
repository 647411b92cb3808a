/* Analysis pages: draw the Plotly figures embedded with json_script, open a result on click,
 * and re-submit a filter form when one of its selects changes (filters live in the URL). */
(function () {
  "use strict";

  function resultUrl(base, point) {
    var data = point && point.customdata;
    var id = Array.isArray(data) ? data[0] : data;
    return id ? base + encodeURIComponent(id) + "/" : null;
  }

  function draw(element) {
    var source = document.getElementById(element.dataset.figure);
    if (!source || typeof Plotly === "undefined") {
      element.textContent = "The figure could not be drawn (plotly.js did not load).";
      return;
    }
    var figure = JSON.parse(source.textContent);
    Plotly.newPlot(element, figure.data, figure.layout, {
      responsive: true,
      displaylogo: false,
      modeBarButtonsToRemove: ["lasso2d", "select2d"],
    }).then(function () {
      element.dataset.drawn = "true";
    });
    var base = element.dataset.resultUrl;
    if (base) {
      element.on("plotly_click", function (event) {
        var url = resultUrl(base, event.points && event.points[0]);
        if (url) window.location.assign(url);
      });
    }
  }

  function autosubmit(form) {
    form.querySelectorAll("select").forEach(function (select) {
      select.addEventListener("change", function () {
        // A new dataset has other models: drop the model choice so the page shows them all.
        var resets = select.dataset.resets;
        if (resets) {
          form.querySelectorAll('select[name="' + resets + '"] option').forEach(function (o) {
            o.selected = false;
          });
        }
        form.requestSubmit ? form.requestSubmit() : form.submit();
      });
    });
  }

  function ready() {
    document.querySelectorAll("[data-figure]").forEach(draw);
    document.querySelectorAll("form[data-autosubmit]").forEach(autosubmit);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
