// Test-only SCIM 2.0 server: SCIMMY's User (+EnterpriseUser) and Group resources over an in-memory
// store, served by scimmy-routers at /scim/v2, plus control endpoints under /_control for tests.
//
// Usage: SCIM_TOKEN=secret node server.js [port]   (port 0 = pick a free one; also env PORT)
// Prints "LISTENING 127.0.0.1:<port>" on stdout once it accepts connections.
import {randomUUID} from "node:crypto";
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";

const token = process.env.SCIM_TOKEN ?? "test-token";
const port = Number(process.argv[2] ?? process.env.PORT ?? 0);

// ---- in-memory store ------------------------------------------------------------------------

const store = {users: new Map(), groups: new Map()};

const clone = (value) => JSON.parse(JSON.stringify(value));
const now = () => new Date().toISOString();

// groupsOf derives the read-only User "groups" attribute from group memberships.
const groupsOf = (userId) => [...store.groups.values()]
    .filter((g) => (g.members ?? []).some((m) => m.value === userId))
    .map((g) => ({value: g.id, display: g.displayName, type: "direct"}));

// egress returns what SCIMMY asked for: one resource by id, or every resource matching the request's
// filter. SCIMMY's ListResponse then applies startIndex/count/sortBy to that list.
const egress = (collection, decorate = (r) => r) => (resource) => {
    const all = [...collection.values()].map((r) => decorate(clone(r)));
    if (resource.id) {
        const found = all.find((r) => r.id === resource.id);
        if (!found) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
        return found;
    }
    return resource.filter ? resource.filter.match(all) : all;
};

// ingress stores a whole resource (POST creates, PUT and SCIMMY's PATCH replace).
const ingress = (collection, checkUnique) => (resource, instance) => {
    const data = clone(instance);
    delete data.groups; // read-only, derived on egress
    const existing = resource.id ? collection.get(resource.id) : undefined;
    if (resource.id && !existing) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
    const id = existing?.id ?? randomUUID();
    checkUnique(data, id);
    const stamp = now();
    const stored = {...data, id, meta: {created: existing?.meta?.created ?? stamp, lastModified: stamp}};
    collection.set(id, stored);
    return clone(stored);
};

const degress = (collection) => (resource) => {
    if (!collection.delete(resource.id)) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
};

// userName is unique (case-insensitively, as RFC 7643 defines it with caseExact=false).
const uniqueUserName = (data, id) => {
    const name = String(data.userName ?? "").toLowerCase();
    for (const u of store.users.values()) {
        if (u.id !== id && String(u.userName).toLowerCase() === name)
            throw new SCIMMY.Types.Error(409, "uniqueness", `userName '${data.userName}' is already in use`);
    }
};
const uniqueDisplayName = () => {};

// A custom extension (SCIMMY insists on the urn:ietf:params:scim:schemas: prefix), as apps define them, to test mapping rules that target any extension URN.
const AcmeUserSchema = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
const acmeUser = new SCIMMY.Types.SchemaDefinition("AcmeUser", AcmeUserSchema, "Test extension", [
    new SCIMMY.Types.Attribute("string", "badgeId", {caseExact: true}),
    new SCIMMY.Types.Attribute("integer", "clearance"),
    new SCIMMY.Types.Attribute("boolean", "contractor"),
    new SCIMMY.Types.Attribute("dateTime", "startDate"),
    new SCIMMY.Types.Attribute("string", "skills", {multiValued: true}),
]);

SCIMMY.Resources.declare(SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false).extend(acmeUser, false), {
    ingress: ingress(store.users, uniqueUserName),
    egress: egress(store.users, (u) => ({...u, groups: groupsOf(u.id)})),
    degress: (resource) => {
        degress(store.users)(resource);
        for (const g of store.groups.values()) g.members = (g.members ?? []).filter((m) => m.value !== resource.id);
    },
});
SCIMMY.Resources.declare(SCIMMY.Resources.Group, {
    ingress: ingress(store.groups, uniqueDisplayName),
    egress: egress(store.groups),
    degress: degress(store.groups),
});

// ---- test controls: fault injection and request counting -------------------------------------

let faults = [];         // [{kind: "429"|"500"|"delay", remaining: n (-1 = forever), retryAfter, delayMs, method, path}]
let counts = {};         // method -> number of /scim requests seen
let maxPageSize = 0;     // when > 0, caps the "count" of list requests (a target returning short pages)

const faultMatches = (f, req) =>
    (!f.method || f.method.toUpperCase() === req.method) && (!f.path || req.originalUrl.startsWith(f.path));

// SCIMMY.Messages.Error refuses status 429 (not in its list of SCIM error codes), so injected
// errors are written as RFC 7644 §3.12 error bodies directly.
const scimError = (res, status, detail) => res.status(status).type("application/scim+json")
    .send({schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: String(status), detail});

const app = express();

app.use("/scim", async (req, res, next) => {
    counts[req.method] = (counts[req.method] ?? 0) + 1;
    if (maxPageSize > 0 && req.query.count !== undefined) req.query.count = String(Math.min(Number(req.query.count), maxPageSize));
    const fault = faults.find((f) => f.remaining !== 0 && faultMatches(f, req));
    if (!fault) return next();
    if (fault.remaining > 0) fault.remaining--;
    switch (fault.kind) {
        case "429":
            if (fault.retryAfter !== undefined) res.set("Retry-After", String(fault.retryAfter));
            return scimError(res, 429, "Too many requests (injected)");
        case "500":
            return scimError(res, 500, "Internal error (injected)");
        case "delay":
            await new Promise((resolve) => setTimeout(resolve, fault.delayMs ?? 1000));
            return next();
    }
    next();
});

app.use("/scim/v2", new SCIMMYRouters({
    type: "bearer",
    handler: (req) => {
        if (req.header("Authorization") !== `Bearer ${token}`) throw new Error("Invalid or missing bearer token");
        return "test-client";
    },
}));

const control = express.Router();
control.use(express.json());
control.post("/reset", (req, res) => {
    store.users.clear();
    store.groups.clear();
    faults = [];
    counts = {};
    maxPageSize = 0;
    res.status(204).end();
});
// Body: {kind: "429"|"500"|"delay", count: n (omit or -1 = until cleared), retryAfter: s, delayMs: ms, method, path}
control.post("/faults", (req, res) => {
    const {kind, count = -1, retryAfter, delayMs, method, path} = req.body ?? {};
    if (!["429", "500", "delay"].includes(String(kind))) return res.status(400).json({error: "kind must be 429, 500 or delay"});
    faults.push({kind: String(kind), remaining: Number(count), retryAfter, delayMs, method, path});
    res.status(204).end();
});
control.delete("/faults", (req, res) => {
    faults = [];
    res.status(204).end();
});
// Body: {maxPageSize: n} (0 = no cap)
control.post("/settings", (req, res) => {
    maxPageSize = Number(req.body?.maxPageSize ?? 0);
    res.status(204).end();
});
control.get("/requests", (req, res) => res.json(counts));
control.delete("/requests", (req, res) => {
    counts = {};
    res.status(204).end();
});
control.get("/dump", (req, res) => res.json({
    users: [...store.users.values()].map((u) => ({...u, groups: groupsOf(u.id)})),
    groups: [...store.groups.values()],
}));
app.use("/_control", control);

const server = app.listen(port, "127.0.0.1", () => {
    const {address, port} = server.address();
    console.log(`LISTENING ${address}:${port}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.close(() => process.exit(0)));
