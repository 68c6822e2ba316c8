#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the build into a scratch prefix and builds a tiny program against
# it twice, the ways a user would: through pkg-config, and through CMake's
# find_package(weft). Usage: check.sh BUILD_DIR SOURCE_DIR CC
set -eu
build=$1 src=$2 cc=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(ls -d "$tmp"/prefix/lib*/ | head -n1)

export PKG_CONFIG_PATH="$libdir/pkgconfig"
# shellcheck disable=SC2046
"$cc" -o "$tmp/hello_pc" "$src/hello.c" $(pkg-config --cflags --libs weft)
LD_LIBRARY_PATH="$libdir" "$tmp/hello_pc" | grep -q "hello from weft"
# shellcheck disable=SC2046
"$cc" -o "$tmp/hello_static" "$src/hello.c" $(pkg-config --cflags weft) "$libdir/libweft.a" $(pkg-config --static --libs-only-l weft | sed "s/-lweft//")
"$tmp/hello_static" | grep -q "hello from weft"

cmake -S "$src" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_C_COMPILER="$cc" >/dev/null
cmake --build "$tmp/cmake" >/dev/null
LD_LIBRARY_PATH="$libdir" "$tmp/cmake/hello" | grep -q "hello from weft"
# A plugin built against the installed weft, loaded by the installed weft:
# the command exports weft's API to it through the shared library.
# shellcheck disable=SC2046
"$cc" -shared -fPIC -o "$tmp/greet.so" "$src/../plugins/greet.c" $(pkg-config --cflags --libs weft)
"$tmp/prefix/bin/weft" --plugin "$tmp/greet.so" --help | grep -q "greet .*says hello and closes ($tmp/greet.so)"
# The example plugin, both ways: a module exporting only its entry, built
# with weft's headers and linking no weft library: the installed weft
# command that loads it provides weft's functions (every symbol resolved
# at load: its command's calls included).
plugin=$(dirname "$0")/../../examples/plugins/lines
check_plugin() {
    so=$1 version=$2
    test "$(nm -D --defined-only "$so" | awk '{print $3}')" = weft_plugin_entry
    ! readelf -d "$so" | grep NEEDED | grep -q libweft
    grep -q "$version" "$so"
    "$tmp/prefix/bin/weft" --plugin "$so" --help | grep -q "lines .*($version) ($so)"
}
cmake -S "$plugin" -B "$tmp/plugin_cmake" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_C_COMPILER="$cc" -DVERSION=v-cmake >/dev/null
cmake --build "$tmp/plugin_cmake" >/dev/null
check_plugin "$tmp/plugin_cmake/liblines.so" v-cmake
mkdir "$tmp/plugin_pc"
make -s -C "$tmp/plugin_pc" -f "$(cd "$plugin" && pwd)/Makefile" VPATH="$(cd "$plugin" && pwd)" CC="$cc" VERSION=v-pkgconfig >/dev/null
check_plugin "$tmp/plugin_pc/liblines.so" v-pkgconfig
echo "install check: pkg-config (shared, static), find_package, a plugin and the example plugin (both ways) all good"
