/* Console charts (Chart.js 4, vendored). Data comes from <script type="application/json">. */
(function () {
  "use strict";
  if (typeof Chart === "undefined") return;

  var css = getComputedStyle(document.documentElement);
  var accent = css.getPropertyValue("--accent").trim() || "#0f766e";
  var text3 = css.getPropertyValue("--text-3").trim() || "#7b8494";
  Chart.defaults.font.family = css.getPropertyValue("--font").trim() || "system-ui, sans-serif";
  Chart.defaults.color = text3;

  function readJSON(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  var revenue = readJSON("revenue-data");
  var canvas = document.getElementById("revenue-chart");
  if (revenue && canvas) {
    var money = new Intl.NumberFormat(revenue.locale, {
      minimumFractionDigits: 2,
      maximumFractionDigits: 2,
    });
    var count = new Intl.NumberFormat(revenue.locale);
    new Chart(canvas, {
      data: {
        labels: revenue.labels,
        datasets: [
          {
            type: "bar",
            label: revenue.revenue_label,
            data: revenue.revenue,
            backgroundColor: "rgba(20, 184, 166, 0.55)",
            hoverBackgroundColor: accent,
            borderRadius: 4,
            yAxisID: "y",
            order: 2,
          },
          {
            type: "line",
            label: revenue.orders_label,
            data: revenue.orders,
            borderColor: "#6366f1",
            backgroundColor: "#6366f1",
            pointRadius: 2,
            tension: 0.3,
            yAxisID: "y1",
            order: 1,
          },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12 } },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var f = ctx.dataset.yAxisID === "y" ? money : count;
                return " " + ctx.dataset.label + ": " + f.format(ctx.parsed.y);
              },
            },
          },
        },
        scales: {
          x: { grid: { display: false } },
          y: {
            beginAtZero: true,
            ticks: { callback: function (v) { return count.format(v); } },
            grid: { color: "rgba(0,0,0,0.05)" },
          },
          y1: {
            beginAtZero: true,
            position: "right",
            grid: { display: false },
            ticks: { precision: 0 },
          },
        },
      },
    });
  }

  document.querySelectorAll("[data-download-chart]").forEach(function (button) {
    button.addEventListener("click", function () {
      var chart = Chart.getChart(button.getAttribute("data-download-chart"));
      if (!chart) return;
      var link = document.createElement("a");
      link.href = chart.toBase64Image("image/png", 1);
      link.download = button.getAttribute("data-filename") || "chart.png";
      link.click();
    });
  });
})();
