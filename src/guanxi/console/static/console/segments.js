/* Segment builder: a rule made by clicking, kept as JSON in a hidden input, counted live. */
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("builder-data").textContent);
  const T = data.text;
  const fields = Object.fromEntries(data.catalogue.map((f) => [f.name, f]));
  const canEdit = window.GUANXI_CAN_EDIT;
  const rule = data.rule && Array.isArray(data.rule.conditions)
    ? data.rule : { match: "all", conditions: [] };
  const list = document.getElementById("conditions");
  const match = document.getElementById("segment-match");
  const hidden = document.getElementById("segment-rule");
  const json = document.getElementById("rule-json");
  const addField = document.getElementById("add-field");
  const form = document.getElementById("segment-form");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v);
    });
    children.flat().forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(c)));
    if (!canEdit && ["INPUT", "SELECT", "BUTTON"].includes(node.tagName)) node.disabled = true;
    return node;
  }

  function defaults(field) {
    const op = field.operators[0].op;
    if (field.type === "choice") return { field: field.name, op, value: [] };
    if (field.type === "behaviour") return { field: field.name, op, value: {} };
    if (field.type === "bool") return { field: field.name, op };
    return { field: field.name, op, value: field.type === "number" ? 0 : "" };
  }

  function numberInput(value, onchange, label) {
    return el("input", {
      type: "number", step: "any", value: value ?? "", "aria-label": label,
      oninput: (e) => onchange(e.target.value === "" ? null : Number(e.target.value)),
    });
  }

  function valueWidget(cond, field, rerender) {
    if (["is_empty", "is_not_empty", "is_true", "is_false"].includes(cond.op)) return [];
    if (field.type === "choice") {
      const chosen = new Set(cond.value || []);
      return field.choices.map((c) => el("label", { class: "chip" },
        el("input", {
          type: "checkbox", value: c.value, checked: chosen.has(c.value),
          onchange: (e) => {
            if (e.target.checked) chosen.add(c.value); else chosen.delete(c.value);
            cond.value = field.choices.map((x) => x.value).filter((v) => chosen.has(v));
            changed();
          },
        }), c.label));
    }
    if (field.type === "number") {
      if (cond.op === "between") {
        const pair = Array.isArray(cond.value) ? cond.value : [null, null];
        cond.value = pair;
        return [T.low, numberInput(pair[0], (v) => { pair[0] = v; changed(); }, T.low),
          T.high, numberInput(pair[1], (v) => { pair[1] = v; changed(); }, T.high)];
      }
      if (Array.isArray(cond.value)) cond.value = cond.value[0];
      return [numberInput(cond.value, (v) => { cond.value = v; changed(); }, field.label)];
    }
    if (field.type === "text") {
      return [el("input", {
        type: "text", value: cond.value || "", "aria-label": field.label,
        oninput: (e) => { cond.value = e.target.value; changed(); },
      })];
    }
    // behaviour: one control per parameter
    cond.value = cond.value || {};
    return field.params.map((p) => {
      const current = cond.value[p.name];
      const set = (v) => {
        if (v === null || v === "" || Number.isNaN(v)) delete cond.value[p.name];
        else cond.value[p.name] = v;
        changed();
      };
      let control;
      if (p.kind === "category" || p.kind === "group" || p.kind === "choice") {
        const options = p.kind === "category" ? data.categories.map((c) => ({ value: c.id, label: c.name }))
          : p.kind === "group" ? data.groups.map((g) => ({ value: g.id, label: g.name }))
            : p.choices;
        control = el("select", {
          "aria-label": p.label,
          onchange: (e) => set(e.target.value === "" ? null
            : (p.kind === "choice" ? e.target.value : Number(e.target.value))),
        }, el("option", { value: "" }, p.required ? "…" : T.any),
        options.map((o) => el("option", { value: o.value, selected: String(o.value) === String(current) }, o.label)));
      } else if (p.kind === "sku" || p.kind === "product") {
        control = el("input", {
          type: p.kind === "sku" ? "text" : "number", value: current ?? "", size: 10, "aria-label": p.label,
          oninput: (e) => set(p.kind === "sku" ? e.target.value.trim() : (e.target.value === "" ? null : Number(e.target.value))),
        });
      } else {
        control = numberInput(current, set, p.label);
      }
      return el("span", { class: "param" }, p.label, control);
    });
  }

  function row(cond, index) {
    const joiner = index === 0 ? "" : (rule.match === "any" ? T.or : T.and);
    const remove = el("button", {
      type: "button", class: "remove", title: T.remove, "aria-label": T.remove,
      onclick: () => { rule.conditions.splice(index, 1); render(); changed(); },
    }, "×");
    if (cond.conditions) {
      return el("li", { class: "condition" }, el("span", { class: "joiner" }, joiner),
        el("span", {}, T.nested), el("code", {}, JSON.stringify(cond)), remove);
    }
    const field = fields[cond.field];
    if (!field) {
      return el("li", { class: "condition" }, el("span", { class: "joiner" }, joiner),
        el("code", {}, JSON.stringify(cond)), remove);
    }
    const ops = el("select", {
      "aria-label": field.label,
      onchange: (e) => { cond.op = e.target.value; render(); changed(); },
    }, field.operators.map((o) => el("option", { value: o.op, selected: o.op === cond.op }, o.label)));
    return el("li", { class: "condition", "data-field": field.name },
      el("span", { class: "joiner" }, joiner),
      el("span", { class: "field-name", title: field.help || "" }, field.label),
      ops, valueWidget(cond, field, render), remove);
  }

  function render() {
    list.replaceChildren(...rule.conditions.map(row));
    match.value = rule.match;
  }

  let timer = null;
  let sequence = 0;
  function changed() {
    hidden.value = JSON.stringify(rule);
    json.textContent = JSON.stringify(rule, null, 2);
    clearTimeout(timer);
    timer = setTimeout(preview, 300);
  }

  async function preview() {
    const mine = ++sequence;
    document.getElementById("live-label").textContent = T.checking;
    const response = await fetch(window.GUANXI_PREVIEW_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ rule }),
    });
    if (mine !== sequence) return; // a newer preview is on its way
    const body = await response.json();
    const count = document.getElementById("live-count");
    const errors = document.getElementById("live-errors");
    const sample = document.getElementById("live-sample");
    if (!response.ok) {
      count.textContent = "—";
      document.getElementById("live-label").textContent = T.fix;
      errors.replaceChildren(...(body.errors || []).map((e) => el("li", {}, el("code", {}, e.path), ": ", e.message)));
      sample.replaceChildren();
      return;
    }
    errors.replaceChildren();
    count.textContent = body.count.toLocaleString();
    document.getElementById("live-label").textContent = T.customers;
    sample.replaceChildren(...(body.sample.length ? body.sample.map((c) => el("li", {}, el("a", { href: c.url }, c.name)))
      : [el("li", { class: "muted" }, T.none)]));
  }

  if (addField) {
    const sections = {};
    data.catalogue.forEach((f) => {
      if (!sections[f.section]) {
        sections[f.section] = el("optgroup", { label: f.section });
        addField.append(sections[f.section]);
      }
      sections[f.section].append(el("option", { value: f.name }, f.label));
    });
    addField.addEventListener("change", () => {
      const field = fields[addField.value];
      if (!field) return;
      rule.conditions.push(defaults(field));
      addField.value = "";
      render();
      changed();
    });
  }
  match.addEventListener("change", () => { rule.match = match.value; render(); changed(); });
  render();
  changed();
})();
