// teal's web console. Every action is an RDS API request to /console/api,
// made as the signed-in access key and authorized by its policy; the
// answers are the API's own XML. Nothing read from the API is ever put into
// the page as HTML: names are the users' to choose.
"use strict";

const state = { csrf: "", keyId: "", root: false, timer: 0, page: null };
const PHASES = ["guardrails", "hold-connections", "stop-writes", "catch-up", "sync-sequences", "committed", "release", "done"];

// ---- DOM helpers ----------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  el.append(...nodes(children));
  return el;
}

// nodes flattens children to nodes: null, undefined and false are left
// out, anything else but a node becomes text.
function nodes(children) {
  return children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false)
    .map((c) => (c instanceof Node ? c : document.createTextNode(String(c))));
}

// fill replaces the children of el.
function fill(el, ...children) { el.replaceChildren(...nodes(children)); }

function statusBadge(s) {
  const v = String(s || "").toLowerCase();
  let cls = "status";
  if (["available", "completed", "switchover_completed", "in-sync", "active"].includes(v)) cls += " ok";
  else if (["failed", "invalid_configuration", "switchover_failed", "incompatible-parameters", "error"].includes(v)) cls += " bad";
  else if (v) cls += " busy";
  return h("span", { class: cls, "data-status": s || "" }, s || "—");
}

function toast(msg) {
  const t = h("div", {}, msg);
  document.getElementById("toast").append(t);
  setTimeout(() => t.remove(), 5000);
}

function errorBox(err) {
  return h("div", { class: "error", role: "alert" }, h("b", {}, err.code || "Error"), ": ", err.message || String(err));
}

// ---- the API ----------------------------------------------------------------

class ApiError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

const kids = (el, name) => (el ? [...el.children].filter((c) => c.localName === name) : []);
const child = (el, name) => kids(el, name)[0] || null;
function at(el, path) {
  for (const p of path.split("/")) el = child(el, p);
  return el;
}
const txt = (el, path) => { const e = path ? at(el, path) : el; return e ? e.textContent : ""; };
const items = (el, path) => { const e = at(el, path); return e ? [...e.children] : []; };

// call runs an RDS API action with its members and returns the element of
// its result, or throws the API's fault.
async function call(action, params) {
  const body = new URLSearchParams({ Action: action, Version: "2014-10-31" });
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") body.append(k, String(v));
  }
  const res = await fetch("/console/api", {
    method: "POST", credentials: "same-origin", body,
    headers: { "X-Teal-Csrf": state.csrf },
  });
  const text = await res.text();
  if (res.status === 401) { showSignIn(); throw new ApiError("NotSignedIn", "Sign in with an access key."); }
  if ((res.headers.get("Content-Type") || "").includes("json")) {
    const j = JSON.parse(text);
    throw new ApiError(j.Code, j.Message);
  }
  const doc = new DOMParser().parseFromString(text, "application/xml");
  const root = doc.documentElement;
  if (root.localName === "ErrorResponse") throw new ApiError(txt(root, "Error/Code"), txt(root, "Error/Message"));
  if (!res.ok) throw new ApiError("HTTP" + res.status, text.slice(0, 200));
  return child(root, action + "Result") || root;
}

// can asks which actions the key may take on which resources.
async function can(pairs) {
  const res = await fetch("/console/can", {
    method: "POST", credentials: "same-origin", body: JSON.stringify(pairs.map(([a, r]) => ({ Action: a, Resource: r || "" }))),
    headers: { "X-Teal-Csrf": state.csrf, "Content-Type": "application/json" },
  });
  if (!res.ok) return pairs.map(() => false);
  return res.json();
}

const arnName = (arn) => String(arn || "").split(":").pop();

function instanceOf(el) {
  return {
    id: txt(el, "DBInstanceIdentifier"), arn: txt(el, "DBInstanceArn"), rid: txt(el, "DbiResourceId"),
    engine: txt(el, "Engine"), version: txt(el, "EngineVersion"), status: txt(el, "DBInstanceStatus"),
    cls: txt(el, "DBInstanceClass"), host: txt(el, "Endpoint/Address"), port: txt(el, "Endpoint/Port"),
    user: txt(el, "MasterUsername"), db: txt(el, "DBName"), storage: txt(el, "AllocatedStorage"),
    storageType: txt(el, "StorageType"), source: txt(el, "ReadReplicaSourceDBInstanceIdentifier"),
    cluster: txt(el, "DBClusterIdentifier"), protect: txt(el, "DeletionProtection") === "true",
    group: txt(el, "DBParameterGroups/DBParameterGroup/DBParameterGroupName"),
    applyStatus: txt(el, "DBParameterGroups/DBParameterGroup/ParameterApplyStatus"),
    latest: txt(el, "LatestRestorableTime"), created: txt(el, "InstanceCreateTime"),
    retention: txt(el, "BackupRetentionPeriod"), progress: txt(el, "PercentProgress"),
    tags: items(el, "TagList").map((t) => [txt(t, "Key"), txt(t, "Value")]),
  };
}

function deploymentOf(el) {
  return {
    id: txt(el, "BlueGreenDeploymentIdentifier"), name: txt(el, "BlueGreenDeploymentName"),
    source: txt(el, "Source"), target: txt(el, "Target"), status: txt(el, "Status"),
    details: txt(el, "StatusDetails"), created: txt(el, "CreateTime"),
    members: items(el, "SwitchoverDetails").map((m) => ({ blue: txt(m, "SourceMember"), green: txt(m, "TargetMember"), status: txt(m, "Status") })),
    tasks: items(el, "Tasks").map((t) => ({ name: txt(t, "Name"), status: txt(t, "Status") })),
    lagSeconds: at(el, "TealReplicaLagSeconds") ? Number(txt(el, "TealReplicaLagSeconds")) : null,
    lagBytes: at(el, "TealReplicaLagBytes") ? Number(txt(el, "TealReplicaLagBytes")) : null,
    findings: items(el, "TealFindings").map((f) => ({ kind: txt(f, "Kind"), db: txt(f, "Database"), object: txt(f, "Object"), blocking: txt(f, "Blocking") === "true", message: txt(f, "Message") })),
    phase: txt(el, "TealSwitchoverPhase"),
    timings: items(el, "TealSwitchoverTimings").map((t) => ({ phase: txt(t, "Phase"), ms: Number(txt(t, "Milliseconds")) })),
  };
}

function clusterOf(el) {
  return {
    id: txt(el, "DBClusterIdentifier"), arn: txt(el, "DBClusterArn"), engine: txt(el, "Engine"), version: txt(el, "EngineVersion"),
    status: txt(el, "Status"), endpoint: txt(el, "Endpoint"), reader: txt(el, "ReaderEndpoint"), port: txt(el, "Port"),
    group: txt(el, "DBClusterParameterGroup"), db: txt(el, "DatabaseName"), user: txt(el, "MasterUsername"),
    protect: txt(el, "DeletionProtection") === "true", created: txt(el, "ClusterCreateTime"),
    members: items(el, "DBClusterMembers").map((m) => ({ id: txt(m, "DBInstanceIdentifier"), writer: txt(m, "IsClusterWriter") === "true" })),
    tags: items(el, "TagList").map((t) => [txt(t, "Key"), txt(t, "Value")]),
  };
}

async function clusters() {
  return items(await call("DescribeDBClusters", { MaxRecords: 100 }), "DBClusters").map(clusterOf);
}

async function instances() {
  return items(await call("DescribeDBInstances", { MaxRecords: 100 }), "DBInstances").map(instanceOf);
}
async function deployments() {
  return items(await call("DescribeBlueGreenDeployments", { MaxRecords: 100 }), "BlueGreenDeployments").map(deploymentOf);
}
async function deployment(id) {
  const r = await call("DescribeBlueGreenDeployments", { BlueGreenDeploymentIdentifier: id });
  return deploymentOf(items(r, "BlueGreenDeployments")[0]);
}
async function events(type, id) {
  const r = await call("DescribeEvents", { SourceType: type, SourceIdentifier: id, Duration: 1440, MaxRecords: 100 });
  return items(r, "Events").map((e) => ({ date: txt(e, "Date"), message: txt(e, "Message") })).reverse();
}

// ---- sessions -----------------------------------------------------------------

async function start() {
  document.getElementById("signout").addEventListener("click", signOut);
  window.addEventListener("hashchange", route);
  const res = await fetch("/console/session", { credentials: "same-origin" });
  if (res.ok) { signedIn(await res.json()); route(); } else showSignIn();
}

function signedIn(s) {
  state.csrf = s.CsrfToken; state.keyId = s.AccessKeyId; state.root = s.Root;
  document.getElementById("who").textContent = "Signed in as " + s.AccessKeyId + (s.Root ? " (root)" : "");
  document.getElementById("signout").hidden = false;
  document.getElementById("nav").hidden = false;
}

function showSignIn() {
  stopTimer();
  state.csrf = "";
  document.getElementById("who").textContent = "";
  document.getElementById("signout").hidden = true;
  document.getElementById("nav").hidden = true;
  const err = h("div", {});
  const id = h("input", { id: "access-key-id", name: "access-key-id", autocomplete: "username", required: true, spellcheck: "false" });
  const secret = h("input", { id: "secret-access-key", name: "secret-access-key", type: "password", autocomplete: "current-password", required: true });
  const form = h("form", { class: "card signin", onsubmit: async (ev) => {
    ev.preventDefault();
    err.replaceChildren();
    const res = await fetch("/console/signin", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ AccessKeyID: id.value, SecretAccessKey: secret.value }) });
    const j = await res.json();
    if (!res.ok) { err.append(errorBox(new ApiError(j.Code, j.Message))); return; }
    secret.value = "";
    signedIn(j);
    route();
  } },
  h("h1", {}, "Sign in to teal"),
  h("p", { class: "muted" }, "Use an access key of this teal server. What you may do is what its policy allows."),
  h("label", { for: "access-key-id" }, "Access key ID"), id,
  h("label", { for: "secret-access-key" }, "Secret access key"), secret,
  err,
  h("div", { class: "actions" }, h("button", { class: "primary", type: "submit", id: "signin" }, "Sign in")));
  show(form);
  id.focus();
}

async function signOut() {
  await fetch("/console/signout", { method: "POST", credentials: "same-origin", headers: { "X-Teal-Csrf": state.csrf } });
  location.hash = "#/";
  showSignIn();
}

// ---- routing and refresh ----------------------------------------------------

function show(...children) {
  const main = document.getElementById("main");
  fill(main, ...children);
}

function stopTimer() { clearInterval(state.timer); state.timer = 0; }

// every re-runs fn now and every two seconds while the page stays; a run
// still waiting for the server is not overtaken by the next one, so the
// page never shows an older answer over a newer one.
function every(fn) {
  stopTimer();
  const page = state.page;
  let running = false;
  const tick = async () => {
    if (state.page !== page || running) return;
    running = true;
    try { await fn(); } catch (e) { if (e.code !== "NotSignedIn") console.warn(e); } finally { running = false; }
  };
  tick();
  state.timer = setInterval(tick, 2000);
}

function route() {
  if (!state.csrf) return;
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  state.page = Symbol(location.hash);
  stopTimer();
  if (parts[0] === "instance" && parts[1]) return instancePage(parts[1]);
  if (parts[0] === "cluster" && parts[1]) return clusterPage(parts[1]);
  if (parts[0] === "deployment" && parts[1] && parts[2] === "switchover") return switchoverPage(parts[1]);
  if (parts[0] === "deployment" && parts[1]) return deploymentPage(parts[1]);
  return databasesPage();
}

const link = (href, text, attrs) => h("a", { href, ...attrs }, text);
const instanceLink = (id) => link("#/instance/" + encodeURIComponent(id), id);
const deploymentLink = (d) => link("#/deployment/" + encodeURIComponent(d.id), d.name || d.id);

// ---- dialogs ------------------------------------------------------------------

// dialog opens a modal form; submit gets its values and may throw an API
// error, shown in the dialog.
function dialog(title, fields, submitLabel, submit, opts) {
  const err = h("div", {});
  const inputs = {};
  const body = fields.map((f) => {
    if (f.note) return h("p", { class: "muted" }, f.note);
    let input;
    const id = "f-" + f.name;
    if (f.options) {
      input = h("select", { id, name: f.name }, f.options.map((o) => h("option", { value: o[0], selected: o[0] === f.value }, o[1])));
    } else if (f.type === "checkbox") {
      input = h("input", { id, name: f.name, type: "checkbox", checked: !!f.value });
      inputs[f.name] = input;
      return h("label", { for: id }, input, " ", f.label, f.hint ? h("span", { class: "hint" }, " — " + f.hint) : null);
    } else {
      input = h("input", { id, name: f.name, type: f.type || "text", value: f.value ?? "", required: f.required, min: f.min, max: f.max, step: f.step, autocomplete: "off", spellcheck: "false" });
    }
    inputs[f.name] = input;
    return [h("label", { for: id }, f.label, f.hint ? h("span", { class: "hint" }, " — " + f.hint) : null), input];
  });
  // Closed in any way (Cancel, Escape, done), the dialog leaves the page.
  const dlg = h("dialog", { "aria-label": title, onclose: () => dlg.remove() });
  const ok = h("button", { class: (opts && opts.danger) ? "danger" : "primary", type: "submit", id: "dialog-submit" }, submitLabel);
  const form = h("form", { method: "dialog", onsubmit: async (ev) => {
    ev.preventDefault();
    err.replaceChildren();
    const values = {};
    for (const [k, el] of Object.entries(inputs)) values[k] = el.type === "checkbox" ? el.checked : el.value.trim();
    ok.disabled = true;
    try { await submit(values); dlg.close(); } catch (e) { err.append(errorBox(e)); } finally { ok.disabled = false; }
  } }, h("h2", {}, title), body, err,
  h("div", { class: "actions" }, h("button", { type: "button", onclick: () => { dlg.close(); } }, "Cancel"), ok));
  dlg.append(form);
  document.body.append(dlg);
  dlg.showModal();
  const first = form.querySelector("input, select");
  if (first) first.focus();
  return dlg;
}

function tagParams(text, prefix) {
  const out = {};
  String(text || "").split(",").map((s) => s.trim()).filter(Boolean).forEach((pair, i) => {
    const [k, ...v] = pair.split("=");
    out[`${prefix}.Tag.${i + 1}.Key`] = k.trim();
    out[`${prefix}.Tag.${i + 1}.Value`] = v.join("=").trim();
  });
  return out;
}

async function versionsOf(engine) {
  const r = await call("DescribeDBEngineVersions", { Engine: engine });
  return items(r, "DBEngineVersions").map((v) => txt(v, "EngineVersion"));
}

// ---- Databases ------------------------------------------------------------------

async function databasesPage() {
  const mayCreate = (await can([["CreateDBInstance", ""]]))[0];
  const list = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const deps = h("div", {});
  show(h("div", { class: "toolbar" }, h("h1", {}, "Databases"),
    h("button", { class: "primary", id: "create-instance", disabled: !mayCreate, onclick: createInstanceDialog }, "Create database")),
  list, h("h2", {}, "Blue/green deployments"), deps);
  every(async () => {
    const [insts, clus, bgds] = await Promise.all([instances(), clusters(), deployments()]);
    // Each member of a deployment, by ARN: which deployment, which side.
    const inBgd = new Map();
    for (const d of bgds) {
      for (const m of d.members) {
        if (m.blue) inBgd.set(m.blue, [d, "blue"]);
        if (m.green) inBgd.set(m.green, [d, "green"]);
      }
      if (d.source) inBgd.set(d.source, [d, "blue"]);
      if (d.target) inBgd.set(d.target, [d, "green"]);
    }
    const bgdCell = (arn) => {
      const hit = inBgd.get(arn);
      return h("td", {}, hit ? [h("span", { class: "side " + hit[1] }, hit[1]), " ", deploymentLink(hit[0])] : "");
    };
    const byId = new Map(insts.map((i) => [i.id, i]));
    const rows = [];
    const row = (i, role, nested) => h("tr", { "data-id": i.id },
      h("td", { class: nested ? "nested" : "" }, instanceLink(i.id)), h("td", {}, role),
      h("td", {}, i.engine + " " + i.version), h("td", {}, statusBadge(i.status), i.progress ? " " + i.progress + "%" : ""),
      h("td", { class: "mono" }, i.host && i.port ? i.host + ":" + i.port : "—"), h("td", {}, i.cls), bgdCell(i.arn));
    for (const c of clus) {
      rows.push(h("tr", { "data-cluster": c.id },
        h("td", {}, link("#/cluster/" + encodeURIComponent(c.id), c.id)), h("td", {}, "cluster"),
        h("td", {}, c.engine + " " + c.version), h("td", {}, statusBadge(c.status)),
        h("td", { class: "mono" }, c.endpoint ? c.endpoint + ":" + c.port : "—"), h("td", {}, c.members.length + " instance(s)"), bgdCell(c.arn)));
      for (const m of c.members) {
        const i = byId.get(m.id);
        if (i) rows.push(row(i, m.writer ? "writer" : "reader", true));
      }
    }
    for (const i of insts) {
      if (i.cluster || (i.source && byId.has(i.source))) continue;
      rows.push(row(i, "instance", false));
      for (const r of insts.filter((x) => x.source === i.id && !x.cluster)) rows.push(row(r, "replica", true));
    }
    fill(list, rows.length ? h("table", { id: "instances" },
      h("thead", {}, h("tr", {}, ["DB identifier", "Role", "Engine", "Status", "Endpoint", "Size", "Blue/green"].map((c) => h("th", {}, c)))),
      h("tbody", {}, rows)) : h("p", { class: "muted" }, "No databases yet."));
    fill(deps, bgds.length ? h("table", { id: "deployments" },
      h("thead", {}, h("tr", {}, ["Deployment", "Status", "Blue (source)", "Green (target)"].map((c) => h("th", {}, c)))),
      h("tbody", {}, bgds.map((d) => h("tr", { "data-id": d.id }, h("td", {}, deploymentLink(d)), h("td", {}, statusBadge(d.status)),
        h("td", {}, arnName(d.source)), h("td", {}, arnName(d.target) || "—"))))) : h("p", { class: "muted" }, "No blue/green deployments."));
  });
}

async function createInstanceDialog() {
  const pg = await versionsOf("postgres").catch(() => []);
  const maria = await versionsOf("mariadb").catch(() => []);
  const options = [...pg.map((v) => ["postgres " + v, "PostgreSQL " + v]), ...maria.map((v) => ["mariadb " + v, "MariaDB " + v])];
  dialog("Create database", [
    { name: "id", label: "DB instance identifier", required: true, hint: "letters, digits and hyphens" },
    { name: "engine", label: "Engine", options },
    { name: "cls", label: "Instance class", value: "db.t3.micro" },
    { name: "storage", label: "Allocated storage (GiB)", type: "number", value: "20", min: 20 },
    { name: "user", label: "Master username", value: "master" },
    { name: "password", label: "Master password", type: "password", hint: "8 to 128 characters" },
    { name: "db", label: "Initial database name", value: "app" },
  ], "Create database", async (v) => {
    const [engine, version] = v.engine.split(" ");
    await call("CreateDBInstance", { DBInstanceIdentifier: v.id, Engine: engine, EngineVersion: version, DBInstanceClass: v.cls,
      AllocatedStorage: v.storage, MasterUsername: v.user, MasterUserPassword: v.password, DBName: v.db });
    toast("Creating " + v.id);
  });
}

// ---- Instance page ----------------------------------------------------------------

async function instancePage(id) {
  const head = h("div", { class: "toolbar" }, h("h1", {}, id));
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  show(head, body);
  let perms = null, shown = "";
  every(async () => {
    let inst;
    try {
      inst = instanceOf(items(await call("DescribeDBInstances", { DBInstanceIdentifier: id }), "DBInstances")[0]);
    } catch (e) { fill(body, errorBox(e)); return; }
    if (!perms) {
      const acts = ["CreateBlueGreenDeployment", "RebootDBInstance", "CreateDBSnapshot", "StopDBInstance", "StartDBInstance",
        "DeleteDBInstance", "ModifyDBInstance", "CreateDBInstanceReadReplica", "PromoteReadReplica", "RestoreDBInstanceToPointInTime"];
      const got = await can(acts.map((a) => [a, inst.arn]));
      perms = Object.fromEntries(acts.map((a, i) => [a, got[i]]));
    }
    // The actions follow what the instance is (stopped, a replica, …),
    // redrawn only when that changes, so that focus stays where it is.
    const key = JSON.stringify([inst.status, inst.source, inst.protect, inst.group]);
    if (key !== shown) {
      shown = key;
      fill(head, h("h1", {}, id), ...instanceActions(inst, perms));
    }
    const [evs, snaps, backups] = await Promise.all([events("db-instance", id).catch(() => []),
      call("DescribeDBSnapshots", { DBInstanceIdentifier: id }).then((r) => items(r, "DBSnapshots")).catch(() => []),
      call("DescribeDBInstanceAutomatedBackups", { DBInstanceIdentifier: id }).then((r) => items(r, "DBInstanceAutomatedBackups")).catch(() => [])]);
    const earliest = backups.length ? txt(backups[0], "RestoreWindow/EarliestTime") : "";
    const conn = inst.engine.startsWith("mariadb") || inst.engine.includes("mysql")
      ? `mysql -h ${inst.host} -P ${inst.port} -u ${inst.user} -p ${inst.db}`
      : `psql "host=${inst.host} port=${inst.port} user=${inst.user} dbname=${inst.db || "postgres"}"`;
    const copy = h("button", { type: "button", onclick: () => navigator.clipboard.writeText(conn).then(() => toast("Copied")) }, "Copy");
    fill(body,
      h("div", { class: "card" }, h("dl", { class: "details", id: "instance-details" },
        detail("Status", statusBadge(inst.status), inst.progress ? " " + inst.progress + "%" : ""),
        detail("Engine", inst.engine + " " + inst.version), detail("Class", inst.cls),
        detail("Endpoint", h("span", { class: "mono" }, inst.host ? inst.host + ":" + inst.port : "—")),
        detail("Connect", h("code", { id: "connection-string" }, conn), " ", copy),
        detail("Parameter group", inst.group, " ", statusBadge(inst.applyStatus)),
        detail("Storage", inst.storage + " GiB " + inst.storageType),
        detail("Deletion protection", inst.protect ? "on" : "off"),
        inst.source ? detail("Replica of", instanceLink(inst.source)) : null,
        detail("Backup retention", inst.retention + " days"),
        detail("Restorable", inst.latest ? (earliest ? "from " + new Date(earliest).toLocaleString() + " " : "") + "to " + new Date(inst.latest).toLocaleString()
          : Number(inst.retention) > 0 ? "not yet (no base backup)" : "no automated backups (retention 0)"),
        detail("Tags", inst.tags.length ? inst.tags.map(([k, v]) => k + "=" + v).join(", ") : "none"))),
      h("h2", {}, "Snapshots"),
      snaps.length ? h("table", {}, h("thead", {}, h("tr", {}, ["Snapshot", "Type", "Status", "Created", ""].map((c) => h("th", {}, c)))),
        h("tbody", {}, snaps.map((s) => h("tr", { "data-snapshot": txt(s, "DBSnapshotIdentifier") }, h("td", {}, txt(s, "DBSnapshotIdentifier")), h("td", {}, txt(s, "SnapshotType")),
          h("td", {}, statusBadge(txt(s, "Status")), " ", txt(s, "PercentProgress") + "%"), h("td", {}, txt(s, "SnapshotCreateTime")),
          h("td", {}, h("button", { type: "button", disabled: txt(s, "Status") !== "available",
            onclick: () => restoreDialog(txt(s, "DBSnapshotIdentifier")) }, "Restore")))))) : h("p", { class: "muted" }, "No snapshots."),
      h("h2", {}, "Events"),
      evs.length ? h("table", {}, h("tbody", {}, evs.slice(0, 30).map((e) => h("tr", {}, h("td", { class: "mono" }, e.date), h("td", {}, e.message)))))
        : h("p", { class: "muted" }, "No events in the last day."));
  });
}

const detail = (name, ...value) => [h("dt", {}, name), h("dd", {}, ...value)];

function instanceActions(inst, p) {
  const b = (label, act, fn, attrs) => h("button", { type: "button", id: "do-" + act, disabled: !p[act], title: p[act] ? "" : "Your access key may not " + act, onclick: fn, ...attrs }, label);
  return [
    b("Create blue/green deployment", "CreateBlueGreenDeployment", () => createDeploymentDialog(inst), { class: "primary", id: "create-bgd" }),
    b("Take snapshot", "CreateDBSnapshot", () => dialog("Take snapshot of " + inst.id, [{ name: "id", label: "Snapshot identifier", value: inst.id + "-snap", required: true }],
      "Take snapshot", async (v) => { await call("CreateDBSnapshot", { DBInstanceIdentifier: inst.id, DBSnapshotIdentifier: v.id }); toast("Snapshot " + v.id + " started"); })),
    b("Reboot", "RebootDBInstance", () => dialog("Reboot " + inst.id, [{ note: "The server restarts; connections through the endpoint are held meanwhile." }],
      "Reboot", async () => { await call("RebootDBInstance", { DBInstanceIdentifier: inst.id }); })),
    inst.status === "stopped"
      ? b("Start", "StartDBInstance", async () => { try { await call("StartDBInstance", { DBInstanceIdentifier: inst.id }); } catch (e) { toast(e.code + ": " + e.message); } })
      : b("Stop", "StopDBInstance", () => dialog("Stop " + inst.id, [{ note: "The server stops; its data and endpoint stay. Clients cannot connect until it starts." }],
        "Stop", async () => { await call("StopDBInstance", { DBInstanceIdentifier: inst.id }); })),
    b("Modify", "ModifyDBInstance", async () => dialog("Modify " + inst.id, [
      { name: "group", label: "DB parameter group", options: await sameFamilyGroups(inst.group), value: inst.group },
      { name: "protect", type: "checkbox", label: "Deletion protection", value: inst.protect },
    ], "Modify", async (v) => {
      await call("ModifyDBInstance", { DBInstanceIdentifier: inst.id, DBParameterGroupName: v.group !== inst.group ? v.group : "",
        DeletionProtection: v.protect, ApplyImmediately: true });
    })),
    inst.source
      ? b("Promote", "PromoteReadReplica", () => dialog("Promote " + inst.id, [{ note: "The replica stops following " + inst.source + " and becomes a primary of its own." }],
        "Promote", async () => { await call("PromoteReadReplica", { DBInstanceIdentifier: inst.id }); }))
      : b("Create read replica", "CreateDBInstanceReadReplica", () => dialog("Create a read replica of " + inst.id,
        [{ name: "id", label: "Replica identifier", value: inst.id + "-replica", required: true }], "Create replica",
        async (v) => { await call("CreateDBInstanceReadReplica", { DBInstanceIdentifier: v.id, SourceDBInstanceIdentifier: inst.id }); })),
    b("Restore to a point in time", "RestoreDBInstanceToPointInTime", () => dialog("Restore " + inst.id + " to a point in time", [
      { name: "id", label: "New DB instance identifier", required: true, value: inst.id + "-pitr" },
      { name: "time", label: "Restore time", type: "datetime-local", step: 1, hint: "your local time, to the second; empty: the latest restorable time" },
    ], "Restore", async (v) => {
      await call("RestoreDBInstanceToPointInTime", { SourceDBInstanceIdentifier: inst.id, TargetDBInstanceIdentifier: v.id,
        RestoreTime: v.time ? new Date(v.time).toISOString() : "", UseLatestRestorableTime: v.time ? "" : "true" });
      location.hash = "#/instance/" + encodeURIComponent(v.id);
    })),
    b("Delete", "DeleteDBInstance", () => dialog("Delete " + inst.id, [
      { note: "This deletes the instance, its server and its data. Type the identifier to confirm." },
      { name: "confirm", label: "Type " + inst.id, required: true },
      { name: "final", type: "checkbox", label: "Take a final snapshot", value: true },
      { name: "snap", label: "Final snapshot identifier", value: inst.id + "-final" },
    ], "Delete", async (v) => {
      if (v.confirm !== inst.id) throw new ApiError("NotConfirmed", "Type " + inst.id + " to delete it.");
      await call("DeleteDBInstance", { DBInstanceIdentifier: inst.id, SkipFinalSnapshot: v.final ? "false" : "true",
        FinalDBSnapshotIdentifier: v.final ? v.snap : "" });
      location.hash = "#/";
    }, { danger: true }), { class: "danger" }),
  ];
}

// sameFamilyGroups lists the DB parameter groups an instance whose group
// is current may move to: those of the same family.
async function sameFamilyGroups(current) {
  const all = items(await call("DescribeDBParameterGroups", { MaxRecords: 100 }), "DBParameterGroups")
    .map((g) => [txt(g, "DBParameterGroupName"), txt(g, "DBParameterGroupFamily")]);
  const family = (all.find(([n]) => n === current) || [])[1];
  return all.filter(([n, f]) => f === family || n === current).map(([n, f]) => [n, n + " (" + f + ")"]);
}

function restoreDialog(snapshot) {
  dialog("Restore " + snapshot, [{ name: "id", label: "New DB instance identifier", required: true, value: snapshot + "-restored" }],
    "Restore", async (v) => {
      await call("RestoreDBInstanceFromDBSnapshot", { DBInstanceIdentifier: v.id, DBSnapshotIdentifier: snapshot });
      location.hash = "#/instance/" + encodeURIComponent(v.id);
    });
}

// compareVersions orders engine versions part by part: 16.9 < 16.14.
function compareVersions(a, b) {
  const pa = String(a).split(".").map(Number), pb = String(b).split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] || 0) - (pb[i] || 0);
    if (d) return d;
  }
  return 0;
}

// createDeploymentDialog creates a blue/green deployment of an instance or
// a cluster: src has id, arn, engine and version.
async function createDeploymentDialog(src) {
  const r = await call("DescribeDBEngineVersions", { Engine: src.engine });
  const versions = items(r, "DBEngineVersions").map((v) => ({ version: txt(v, "EngineVersion"), family: txt(v, "DBParameterGroupFamily") }))
    .filter((v) => compareVersions(v.version, src.version) >= 0).sort((a, b) => compareVersions(a.version, b.version));
  const families = new Set(versions.map((v) => v.family));
  const isCluster = src.arn.includes(":cluster:");
  const groupsOf = async (action, list, member, family) => items(await call(action, { MaxRecords: 100 }), list)
    .filter((g) => families.has(txt(g, family))).map((g) => [txt(g, member), txt(g, member) + " (" + txt(g, family) + ")"]);
  const groups = await groupsOf("DescribeDBParameterGroups", "DBParameterGroups", "DBParameterGroupName", "DBParameterGroupFamily").catch(() => []);
  const clusterGroups = isCluster ? await groupsOf("DescribeDBClusterParameterGroups", "DBClusterParameterGroups", "DBClusterParameterGroupName", "DBParameterGroupFamily").catch(() => []) : [];
  const last = versions.length ? versions[versions.length - 1].version : "";
  dialog("Create blue/green deployment", [
    { note: "Green is a copy of " + src.id + " kept in sync by replication; the switchover moves production to it." },
    { name: "name", label: "Deployment name", required: true, value: src.id + "-bgd" },
    { name: "version", label: "Target engine version", options: versions.map((v) => [v.version, src.engine + " " + v.version + (v.version === src.version ? " (same)" : "")]), value: last },
    { name: "group", label: "Target DB parameter group", options: [["", "the default of the target version"], ...groups] },
    isCluster ? { name: "cgroup", label: "Target DB cluster parameter group", options: [["", "the default of the target version"], ...clusterGroups] } : null,
    { name: "tags", label: "Tags", hint: "key=value, comma separated" },
  ].filter(Boolean), "Create", async (v) => {
    const res = await call("CreateBlueGreenDeployment", { BlueGreenDeploymentName: v.name, Source: src.arn,
      TargetEngineVersion: v.version, TargetDBParameterGroupName: v.group, TargetDBClusterParameterGroupName: v.cgroup, ...tagParams(v.tags, "Tags") });
    location.hash = "#/deployment/" + encodeURIComponent(txt(res, "BlueGreenDeployment/BlueGreenDeploymentIdentifier"));
  });
}

// ---- Cluster page -----------------------------------------------------------------

async function clusterPage(id) {
  const head = h("div", { class: "toolbar" }, h("h1", {}, "DB cluster " + id));
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  show(head, body);
  let perms = null;
  every(async () => {
    let c;
    try {
      c = clusterOf(items(await call("DescribeDBClusters", { DBClusterIdentifier: id }), "DBClusters")[0]);
    } catch (e) { fill(body, errorBox(e)); return; }
    if (!perms) {
      const acts = ["FailoverDBCluster", "CreateBlueGreenDeployment"];
      const got = await can(acts.map((a) => [a, c.arn]));
      perms = Object.fromEntries(acts.map((a, i) => [a, got[i]]));
    }
    const b = (label, act, fn, attrs) => h("button", { type: "button", disabled: !perms[act], title: perms[act] ? "" : "Your access key may not " + act, onclick: fn, ...attrs }, label);
    const readers = c.members.filter((m) => !m.writer).map((m) => m.id);
    fill(head, h("h1", {}, "DB cluster " + c.id, " ", statusBadge(c.status)),
      b("Create blue/green deployment", "CreateBlueGreenDeployment", () => createDeploymentDialog(c), { class: "primary", id: "create-bgd" }),
      b("Failover", "FailoverDBCluster", () => failoverDialog(c, readers), { id: "failover", disabled: !perms.FailoverDBCluster || !readers.length || c.status !== "available" }));
    const [insts, eps, evs] = await Promise.all([instances(),
      call("DescribeDBClusterEndpoints", { DBClusterIdentifier: id }).then((r) => items(r, "DBClusterEndpoints")).catch(() => []),
      events("db-cluster", id).catch(() => [])]);
    const byId = new Map(insts.map((i) => [i.id, i]));
    const conn = `psql "host=${c.endpoint} port=${c.port} user=${c.user} dbname=${c.db || "postgres"}"`;
    const endpointRows = [
      ["Cluster (writer)", "", c.endpoint ? c.endpoint + ":" + c.port : "—", "the current writer, through failovers"],
      ["Reader", "", c.reader || "—", "the available readers in turn; the writer when there is none"],
      ...eps.filter((e) => txt(e, "EndpointType") === "CUSTOM").map((e) => ["Custom " + txt(e, "CustomEndpointType"), txt(e, "DBClusterEndpointIdentifier"),
        txt(e, "Endpoint"), items(e, "StaticMembers").length ? "members: " + items(e, "StaticMembers").map((m) => m.textContent).join(", ")
          : "every " + txt(e, "CustomEndpointType").toLowerCase() + (items(e, "ExcludedMembers").length ? " but " + items(e, "ExcludedMembers").map((m) => m.textContent).join(", ") : "")]),
    ];
    fill(body,
      h("div", { class: "card" }, h("dl", { class: "details", id: "cluster-details" },
        detail("Engine", c.engine + " " + c.version),
        detail("Connect", h("code", { id: "connection-string" }, conn)),
        detail("Cluster parameter group", c.group),
        detail("Database", c.db || "—"), detail("Master user", c.user),
        detail("Deletion protection", c.protect ? "on" : "off"),
        detail("Tags", c.tags.length ? c.tags.map(([k, v]) => k + "=" + v).join(", ") : "none"))),
      h("h2", {}, "Instances"),
      c.members.length ? h("table", { id: "cluster-members" },
        h("thead", {}, h("tr", {}, ["Instance", "Role", "Status", "Endpoint", "Class"].map((x) => h("th", {}, x)))),
        h("tbody", {}, c.members.map((m) => {
          const i = byId.get(m.id) || {};
          return h("tr", { "data-id": m.id, "data-role": m.writer ? "writer" : "reader" }, h("td", {}, instanceLink(m.id)),
            h("td", {}, m.writer ? "Writer" : "Reader"), h("td", {}, statusBadge(i.status)),
            h("td", { class: "mono" }, i.host ? i.host + ":" + i.port : "—"), h("td", {}, i.cls || ""));
        }))) : h("p", { class: "muted" }, "No instances: the cluster keeps its data until the next one is added."),
      h("h2", {}, "Endpoints"),
      h("table", { id: "cluster-endpoints" },
        h("thead", {}, h("tr", {}, ["Type", "Identifier", "Endpoint", "Reaches"].map((x) => h("th", {}, x)))),
        h("tbody", {}, endpointRows.map((r) => h("tr", {}, h("td", {}, r[0]), h("td", {}, r[1]), h("td", { class: "mono" }, r[2]), h("td", {}, r[3]))))),
      h("h2", {}, "Events"),
      evs.length ? h("table", {}, h("tbody", {}, evs.slice(0, 30).map((e) => h("tr", {}, h("td", { class: "mono" }, e.date), h("td", {}, e.message)))))
        : h("p", { class: "muted" }, "No events in the last day."));
  });
}

function failoverDialog(c, readers) {
  dialog("Fail over " + c.id, [
    { note: "A reader becomes the writer once it has every commit of the old writer. Sessions on the writer are closed and reconnect; new connections wait at the cluster endpoint." },
    { name: "target", label: "New writer", options: readers.map((r) => [r, r]), value: readers[0] },
  ], "Fail over", async (v) => {
    await call("FailoverDBCluster", { DBClusterIdentifier: c.id, TargetDBInstanceIdentifier: v.target });
    toast("Failing over to " + v.target);
  }, { danger: true });
}

// ---- Deployment page ---------------------------------------------------------------

async function memberInstances(d) {
  const ids = d.members.flatMap((m) => [arnName(m.blue), arnName(m.green)]).filter(Boolean);
  const all = await instances();
  return new Map(all.filter((i) => ids.includes(i.id) || d.members.some((m) => m.blue === i.arn || m.green === i.arn)).map((i) => [i.arn, i]));
}

function topology(d, byArn) {
  const side = (cls, title, key) => h("div", { class: "env " + cls }, h("h3", {}, title),
    d.members.map((m) => {
      const i = byArn.get(m[key]);
      return h("div", { class: "member" }, h("span", {}, i ? instanceLink(i.id) : arnName(m[key]) || "—"),
        h("span", {}, i ? i.engine + " " + i.version + " " : "", statusBadge(i ? i.status : m.status)));
    }));
  const lag = d.lagSeconds !== null ? `lag ${d.lagSeconds.toFixed(3)} s, ${fmtBytes(d.lagBytes)}` : d.status.toLowerCase();
  return h("div", { class: "topology", id: "topology" }, side("blue", "Blue (production)", "blue"),
    h("div", { class: "arrow" }, h("div", { class: "line" }, "⟶"), "logical replication", h("br"), lag),
    side("green", "Green (staging)", "green"));
}

function fmtBytes(n) {
  if (n === null || n === undefined) return "";
  const u = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}

// chart draws the lag samples (one every two seconds), seconds and bytes,
// as two lines over a shared time axis, each scaled to its own maximum.
function chart(samples) {
  const W = 1100, H = 170, L = 16, R = 16, T = 26, B = 22;
  const svgNS = "http://www.w3.org/2000/svg";
  const el = (tag, attrs, text) => {
    const e = document.createElementNS(svgNS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Replication lag over time" });
  svg.append(el("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#b6bfcc" }));
  const seconds = Math.round(Math.max(0, samples.length - 1) * 2);
  svg.append(el("text", { x: L, y: H - 6, "font-size": 12, fill: "#5b6475" }, `${seconds} s ago`));
  svg.append(el("text", { x: W - R, y: H - 6, "font-size": 12, fill: "#5b6475", "text-anchor": "end" }, "now"));
  const line = (key, color, label, anchor, x) => {
    const max = Math.max(...samples.map((s) => s[key] || 0), key === "s" ? 0.01 : 1);
    const pts = samples.map((s, i) => `${L + (i * (W - L - R)) / Math.max(1, samples.length - 1)},${H - B - ((s[key] || 0) / max) * (H - T - B)}`);
    if (samples.length > 1) svg.append(el("polyline", { points: pts.join(" "), fill: "none", stroke: color, "stroke-width": 2 }));
    svg.append(el("text", { x, y: 16, fill: color, "font-size": 13, "text-anchor": anchor }, label(max)));
  };
  line("s", "#0d7f7a", (m) => `— seconds behind (top: ${m.toFixed(3)} s)`, "start", L);
  line("b", "#2a5bd7", (m) => `— bytes behind (top: ${fmtBytes(m)})`, "end", W - R);
  return h("div", { class: "chart", "data-samples": samples.length }, svg);
}

async function deploymentPage(id) {
  const head = h("div", { class: "toolbar" }, h("h1", {}, "Blue/green deployment"));
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  show(head, body);
  const samples = [];
  let perms = null;
  every(async () => {
    let d;
    try { d = await deployment(id); } catch (e) { fill(body, errorBox(e)); return; }
    if (!perms) {
      const arn = `arn:aws:rds:${d.source.split(":")[3]}:${d.source.split(":")[4]}:deployment:${d.id}`;
      const got = await can([["SwitchoverBlueGreenDeployment", arn], ["DeleteBlueGreenDeployment", arn]]);
      perms = { switchover: got[0], del: got[1] };
    }
    if (d.lagSeconds !== null) { samples.push({ s: d.lagSeconds, b: d.lagBytes }); if (samples.length > 150) samples.shift(); }
    fill(head, h("h1", {}, d.name, " ", statusBadge(d.status)),
      h("button", { class: "primary", id: "switchover", type: "button", disabled: !perms.switchover || d.status !== "AVAILABLE",
        title: perms.switchover ? "" : "Your access key may not switch over",
        onclick: () => { location.hash = "#/deployment/" + encodeURIComponent(d.id) + "/switchover"; } }, "Switch over"),
      h("button", { class: "danger", id: "delete-deployment", type: "button", disabled: !perms.del, onclick: () => deleteDeploymentDialog(d) }, "Delete"));
    const byArn = await memberInstances(d);
    const evs = await events("blue-green-deployment", d.id).catch(() => []);
    fill(body,
      h("p", { id: "status-details" }, d.details || ""),
      topology(d, byArn),
      h("h2", {}, "Replication lag"), chart(samples),
      h("h2", {}, "Tasks"),
      h("table", { id: "tasks" }, h("tbody", {}, d.tasks.map((t) => h("tr", {}, h("td", {}, t.name), h("td", {}, statusBadge(t.status)))))),
      h("h2", {}, "Preflight findings"),
      d.findings.length ? h("ul", {}, d.findings.map((f) => h("li", {}, f.blocking ? h("b", {}, "blocking: ") : "", `${f.db}${f.object ? "." + f.object : ""}: ${f.message}`)))
        : h("p", { class: "muted" }, "None: nothing in blue stops replication."),
      d.timings.length ? [h("h2", {}, "Last switchover"), phaseList(d)] : null,
      h("h2", {}, "Events"),
      h("table", {}, h("tbody", {}, evs.slice(0, 40).map((e) => h("tr", {}, h("td", { class: "mono" }, e.date), h("td", {}, e.message))))));
  });
}

function deleteDeploymentDialog(d) {
  dialog("Delete " + d.name, [
    { note: "Deleting the deployment stops replication to green. Blue, production, is never touched." },
    { name: "target", type: "checkbox", label: "Delete green too (DeleteTarget)", value: false,
      hint: d.status === "SWITCHOVER_COMPLETED" ? "after a switchover green is production and is kept" : "its instances are deleted; otherwise they stay as standalone instances" },
  ], "Delete deployment", async (v) => {
    await call("DeleteBlueGreenDeployment", { BlueGreenDeploymentIdentifier: d.id, DeleteTarget: v.target ? "true" : "false" });
    location.hash = "#/";
  }, { danger: true });
}

function phaseList(d) {
  const took = new Map(d.timings.map((t) => [t.phase, t.ms]));
  const reached = PHASES.indexOf(d.phase);
  return h("ol", { class: "phases", id: "phases" }, PHASES.map((p, i) => {
    let cls = "pending";
    if (took.has(p) || (reached >= 0 && i < reached) || d.phase === "done") cls = "done";
    if (p === d.phase && d.phase !== "done") cls = "current";
    return h("li", { class: cls, "data-phase": p }, h("span", { class: "mark" }), h("span", {}, p),
      h("span", { class: "took" }, took.has(p) ? took.get(p).toFixed(1) + " ms" : ""));
  }));
}

// ---- Switch over ---------------------------------------------------------------------

async function switchoverPage(id) {
  let d;
  try { d = await deployment(id); } catch (e) { show(errorBox(e)); return; }
  const byArn = await memberInstances(d);
  const names = new Set((await instances()).map((i) => i.id));
  const oldName = (n) => { let k = 1; while (names.has(`${n}-old${k}`)) k++; return `${n}-old${k}`; };
  const summary = h("table", { class: "summary", id: "switchover-summary" },
    h("thead", {}, h("tr", {}, ["", "Blue (production now)", "Green (production after)"].map((c) => h("th", {}, c)))),
    h("tbody", {}, d.members.map((m) => {
      const b = byArn.get(m.blue), g = byArn.get(m.green);
      const bn = b ? b.id : arnName(m.blue), gn = g ? g.id : arnName(m.green);
      return [
        h("tr", {}, h("td", {}, "Instance"), h("td", {}, bn), h("td", {}, gn)),
        h("tr", {}, h("td", {}, "Engine"), h("td", {}, b ? b.engine + " " + b.version : ""), h("td", {}, g ? g.engine + " " + g.version : "")),
        h("tr", {}, h("td", {}, "Name after the switchover"), h("td", {}, oldName(bn)), h("td", {}, bn)),
        h("tr", {}, h("td", {}, "Endpoint"), h("td", { colspan: 2 }, b ? `${b.host}:${b.port} — unchanged, it moves to green` : "")),
      ];
    })));
  const guard = h("ul", { class: "guardrails", id: "guardrails" });
  const timeout = h("input", { id: "switchover-timeout", type: "number", min: 30, max: 3600, value: 300, required: true });
  const err = h("div", {});
  const progress = h("div", {});
  const go = h("button", { class: "primary", id: "switchover-confirm", type: "submit" }, "Switch over");
  // The API validates the timeout; the form shows its fault as it is.
  const form = h("form", { class: "card", novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    err.replaceChildren();
    go.disabled = true;
    try {
      await call("SwitchoverBlueGreenDeployment", { BlueGreenDeploymentIdentifier: d.id, SwitchoverTimeout: timeout.value.trim() || "300" });
      followSwitchover(d.id, progress, form);
    } catch (e) { err.append(errorBox(e)); go.disabled = false; }
  } },
  h("h2", {}, "Guardrails, checked now"), guard,
  h("label", { for: "switchover-timeout" }, "Timeout (seconds)", h("span", { class: "hint" }, " — 30 to 3600; past it, the switchover rolls back and blue stays production")),
  timeout, err,
  h("div", { class: "actions" }, h("button", { type: "button", id: "switchover-cancel", onclick: () => { location.hash = "#/deployment/" + encodeURIComponent(d.id); } }, "Cancel"), go));
  show(h("div", { class: "toolbar" }, h("h1", {}, "Switch over " + d.name)),
    h("p", {}, "Green becomes production: it takes blue's names and endpoints, and blue is renamed. Writes pause for the switchover only; clients keep their endpoint."),
    h("h2", {}, "Summary"), summary, form, progress);
  every(async () => {
    const cur = await deployment(id);
    const insts = await memberInstances(cur);
    const checks = [
      ["Deployment is AVAILABLE", cur.status === "AVAILABLE", cur.status],
      ["Every member is available", cur.members.every((m) => (insts.get(m.blue) || {}).status === "available" && (insts.get(m.green) || {}).status === "available"), ""],
      ["Replication is streaming", cur.lagSeconds !== null, cur.lagSeconds !== null ? `lag ${cur.lagSeconds.toFixed(3)} s` : "no lag measured"],
      ["No blocking preflight finding", !cur.findings.some((f) => f.blocking), `${cur.findings.length} finding(s)`],
    ];
    fill(guard, ...checks.map(([name, ok, note]) => h("li", { "data-ok": ok ? "true" : "false" }, ok ? "✓ " : "✗ ", name, note ? h("span", { class: "hint" }, " — " + note) : "")));
  });
}

function followSwitchover(id, box, form) {
  form.hidden = true;
  const page = state.page;
  stopTimer();
  // One poll at a time, and none after the end: a slow answer from before
  // the end must not be drawn over it.
  let running = false, ended = false;
  const poll = async () => {
    if (state.page !== page || running || ended) return;
    running = true;
    try {
      const d = await deployment(id);
      ended = d.status === "SWITCHOVER_COMPLETED" || d.status === "SWITCHOVER_FAILED";
      fill(box, h("h2", {}, "Switchover ", statusBadge(d.status)),
        h("p", { id: "switchover-outcome" }, ended ? (d.status === "SWITCHOVER_COMPLETED" ? "Completed: green is production." : "Rolled back: " + d.details) : d.details),
        phaseList(d));
      if (ended) stopTimer();
    } catch (e) {
      if (e.code !== "NotSignedIn") console.warn(e);
    } finally { running = false; }
  };
  poll();
  state.timer = setInterval(poll, 500);
}

// An action that fails before its dialog opens still shows the API's fault.
window.addEventListener("unhandledrejection", (ev) => {
  if (ev.reason instanceof ApiError && ev.reason.code !== "NotSignedIn") toast(ev.reason.code + ": " + ev.reason.message);
});

start();
