# Sourced by bin/berth and bin/berth-agent: which java runs Berth, and its version.
# Builtins only: bin/berth runs this before every command, and a forked helper would cost more than the rest of it.

# jdk_release_version HOME: sets java_version from HOME/release (JAVA_RUNTIME_VERSION, else JAVA_VERSION)
jdk_release_version() {
  java_version=""
  local k v
  [[ -f "$1/release" ]] || return 1
  while IFS='=' read -r k v; do
    v=${v#\"}; v=${v%\"}
    if [[ $k == JAVA_RUNTIME_VERSION ]]; then java_version=$v; break; fi
    [[ $k == JAVA_VERSION ]] && java_version=$v
  done <"$1/release"
  [[ -n "$java_version" ]]
}

# jdk_pick [JAVA]: sets java (JAVA when given, else the newest JDK 25+ under /usr/lib/jvm, whose AOT cache keeps
# linked classes and method profiles (JEPs 483/514/515), else java on the PATH), java_version (empty when unknown)
# and java_major (0 when unknown)
jdk_pick() {
  java="${1:-}"
  local home best=0 found="" major
  if [[ -z "$java" ]]; then
    for home in /usr/lib/jvm/*; do
      [[ -x "$home/bin/java" && ! -L "$home" ]] && jdk_release_version "$home" || continue
      major=${java_version%%[.+-]*}
      if (( major >= 25 && major > best )); then best=$major; java="$home/bin/java"; found=$java_version; fi
    done
  fi
  if [[ -n "$found" ]]; then
    java_version=$found
  else
    java="${java:-java}"
    jdk_release_version "$(dirname "$(dirname "$(readlink -f "$(command -v "$java")")")")" || java_version=""
  fi
  java_major=${java_version%%[.+-]*}
  java_major=${java_major:-0}
}
