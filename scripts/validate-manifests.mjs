// Checks every document of Kubernetes YAML against the OpenAPI schema of its kind (types, required fields,
// enums), with the npm packages kubernetes-models and @kubernetes-models/prometheus-operator that
// scripts/install-tools.sh puts in .tools/npm. A document of a kind neither package knows is an error, so
// nothing passes unchecked.
//
//   node scripts/validate-manifests.mjs [--modules DIR] FILE...   ("-" reads stdin)
//
// Prints "ok <apiVersion> <kind> <name>" or "invalid <apiVersion> <kind> <name>: <errors>" per document;
// exits 0 when all are valid, 1 when one is not, 2 on bad usage or a missing package.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const args = process.argv.slice(2);
let modules = process.env.LAPS_NODE_MODULES
  ?? join(dirname(fileURLToPath(import.meta.url)), "..", ".tools", "npm", "node_modules");
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--modules") modules = args[++i];
  else files.push(args[i]);
}
if (files.length === 0) {
  console.error("usage: node scripts/validate-manifests.mjs [--modules DIR] FILE...");
  process.exit(2);
}
modules = resolve(modules);
const packages = ["js-yaml", "kubernetes-models", "@kubernetes-models/prometheus-operator"];
for (const p of packages) {
  if (!existsSync(join(modules, p, "package.json"))) {
    console.error(`validate-manifests: ${p} is missing from ${modules}; run scripts/install-tools.sh`);
    process.exit(2);
  }
}
const yaml = (await import(pathToFileURL(join(modules, "js-yaml", "index.js")).href)).default;

// apiVersion "apps/v1" -> kubernetes-models/apps/v1/<Kind>.js; the core group ("v1") has no group folder.
function modelPath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (!/^[A-Za-z0-9]+$/.test(kind) || !/^[a-z0-9.]*$/.test(group) || !/^v[a-z0-9]+$/.test(version)) return null;
  const pkg = group === "monitoring.coreos.com" ? "@kubernetes-models/prometheus-operator" : "kubernetes-models";
  const file = join(modules, pkg, ...(group ? [group] : []), version, `${kind}.js`);
  return existsSync(file) ? file : null;
}

let failed = false;
for (const file of files) {
  const text = readFileSync(file === "-" ? 0 : file, "utf8");
  for (const doc of yaml.loadAll(text)) {
    if (doc === null || doc === undefined) continue; // empty documents between "---"
    const id = `${doc.apiVersion} ${doc.kind} ${doc.metadata?.name ?? "<no name>"}`;
    const path = typeof doc.apiVersion === "string" && typeof doc.kind === "string"
      ? modelPath(doc.apiVersion, doc.kind) : null;
    if (path === null) {
      console.log(`invalid ${id}: no schema for this apiVersion and kind`);
      failed = true;
      continue;
    }
    const Model = (await import(pathToFileURL(path).href))[doc.kind];
    try {
      new Model(doc).validate();
      console.log(`ok ${id}`);
    } catch (e) {
      const details = Array.isArray(e.errors)
        ? e.errors.map(x => `${x.instancePath || "/"} ${x.message}`).join("; ")
        : e.message;
      console.log(`invalid ${id}: ${details}`);
      failed = true;
    }
  }
}
process.exit(failed ? 1 : 0);
