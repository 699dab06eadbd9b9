// batchcook gallery: progressive enhancement only. Every page works without this file
// (plain forms, <meta refresh> on the job page); with it the form posts to the JSON API
// with the key as a bearer header, and the job page follows the job without reloading.
(function () {
  "use strict";
  var KEY = "batchcook-key"; // sessionStorage: gone with the tab, never in a URL
  var STATUS = {
    queued: "Queued", submitted: "Submitted to OpenAI", generating: "Generating",
    waiting: "Waiting for OpenAI", writing: "Writing the recipe", succeeded: "Ready",
    failed: "Failed"
  };
  var ENDPOINTS = { "/v1/responses": "Recipe text", "/v1/images/generations": "Photo" };

  function storedKey() {
    try { return window.sessionStorage.getItem(KEY) || ""; } catch (e) { return ""; }
  }

  function el(tag, text) {
    var node = document.createElement(tag);
    if (text !== undefined) { node.textContent = String(text); } // text, never markup
    return node;
  }

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });

  var form = document.getElementById("new-recipe");
  if (form && window.fetch) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = new FormData(form);
      var key = String(data.get("key") || "");
      var message = form.querySelector("[data-message]");
      var button = form.querySelector("button");
      var headers = { "Content-Type": "application/json", "Accept": "application/json" };
      if (key) { headers.Authorization = "Bearer " + key; }
      button.disabled = true; // one click, one job
      message.textContent = "Starting…";
      fetch(form.dataset.api, {
        method: "POST", headers: headers, body: JSON.stringify({ prompt: data.get("prompt") })
      }).then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      }).then(function (answer) {
        if (!answer.ok) {
          throw new Error((answer.body.error && answer.body.error.message) || "failed");
        }
        if (key) { try { window.sessionStorage.setItem(KEY, key); } catch (e) { /* private */ } }
        window.location.assign(form.dataset.jobs + encodeURIComponent(answer.body.job_id));
      }).catch(function (error) {
        message.textContent = "Could not start: " + error.message;
        button.disabled = false;
      });
    });
  }

  var job = document.getElementById("job");
  if (!job || job.dataset.done === "true" || !window.fetch) { return; }
  var interval = Number(job.dataset.interval) || 2000;

  function render(data) {
    var status = document.getElementById("job-status");
    status.textContent = STATUS[data.status] || data.status;
    status.dataset.status = data.status;
    if (data.title) { document.getElementById("job-title").textContent = data.title; }
    var rows = document.getElementById("job-batches");
    rows.replaceChildren();
    (data.batches || []).forEach(function (batch) {
      var row = el("tr");
      var name = ENDPOINTS[batch.endpoint] || batch.endpoint;
      if (batch.attempt) { name += " (retry " + batch.attempt + ")"; }
      row.append(el("td", name), el("td", String(batch.status).replace(/_/g, " ")),
        el("td", batch.completed + "/" + batch.total), el("td", batch.failed));
      rows.append(row);
    });
    if (!rows.children.length) {
      var empty = el("td", "No batch yet.");
      empty.colSpan = 4;
      rows.append(el("tr")); rows.lastChild.append(empty);
    }
    var result = document.getElementById("job-result");
    if (data.status === "succeeded" && data.page_id) {
      var base = job.dataset.recipeBase;
      var href = base ? base + encodeURIComponent(data.page_id) : data.page_url;
      if (href && (base || /^https?:\/\//.test(href))) {
        var link = el("a", "Open the recipe");
        link.className = "button";
        link.href = href;
        result.replaceChildren(link);
      }
    } else if (data.status === "failed") {
      var error = el("p", (data.error && data.error.message) || "The job failed.");
      error.className = "error";
      result.replaceChildren(error);
    }
  }

  function poll() {
    var headers = { Accept: "application/json" };
    var key = storedKey();
    if (key) { headers.Authorization = "Bearer " + key; }
    fetch(job.dataset.api, { headers: headers, cache: "no-store" }).then(function (response) {
      if (response.status === 401) {
        // The API wants a key this tab does not have: the page itself is open, reload it.
        window.location.reload();
        return null;
      }
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (data) {
      if (!data) { return; }
      render(data);
      if (data.status !== "succeeded" && data.status !== "failed") { later(); }
    }).catch(later); // a network blip: try again
  }

  function later() { window.setTimeout(poll, interval); }
  later();
})();
