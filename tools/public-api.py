#!/usr/bin/env python3
"""The public API of a crate as sorted text lines, from rustdoc's JSON (nightly), for a snapshot
test: every public path with its kind and signature (functions and methods with their argument
and return types, struct fields, enum variants, constants, trait methods, and the traits each
public type implements, auto traits included). A change to any line is a change to the API,
which the diff shows; semver says what it requires.

Usage:
  tools/public-api.py PACKAGE SNAPSHOT          compare; exit 1 with a diff when they differ
  tools/public-api.py PACKAGE SNAPSHOT --bless  rewrite SNAPSHOT
"""
import difflib
import json
import os
import subprocess
import sys


def rustdoc_json(package):
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    subprocess.run(
        ["cargo", "+nightly", "rustdoc", "-q", "--locked", "-p", package, "--lib", "--",
         "-Z", "unstable-options", "--output-format", "json"],
        check=True)
    with open(os.path.join(target, "doc", package.replace("-", "_") + ".json")) as f:
        return json.load(f)


class Api:
    def __init__(self, doc):
        self.index = doc["index"]
        self.lines = set()

    def item(self, id_):
        return self.index.get(str(id_))

    # Types -------------------------------------------------------------------------------
    def ty(self, t):
        if t is None:
            return "()"
        (kind, v), = t.items()
        if kind == "resolved_path":
            return v["path"].split("::")[-1] + self.args(v.get("args"))
        if kind == "primitive":
            return v
        if kind == "generic":
            return v
        if kind == "borrowed_ref":
            life = (v["lifetime"] + " ") if v.get("lifetime") else ""
            return "&" + life + ("mut " if v["is_mutable"] else "") + self.ty(v["type"])
        if kind == "raw_pointer":
            return ("*mut " if v["is_mutable"] else "*const ") + self.ty(v["type"])
        if kind == "slice":
            return "[" + self.ty(v) + "]"
        if kind == "array":
            return "[" + self.ty(v["type"]) + "; " + v["len"] + "]"
        if kind == "tuple":
            return "(" + ", ".join(self.ty(x) for x in v) + ")"
        if kind == "impl_trait":
            return "impl " + " + ".join(self.bound(b) for b in v)
        if kind == "dyn_trait":
            return "dyn " + " + ".join(
                p["trait"]["path"].split("::")[-1] + self.args(p["trait"].get("args"))
                for p in v["traits"])
        if kind == "qualified_path":
            return "<" + self.ty(v["self_type"]) + ">::" + v["name"]
        if kind == "function_pointer":
            return "fn(" + ", ".join(self.ty(x[1]) for x in v["sig"]["inputs"]) + ") -> " + \
                self.ty(v["sig"]["output"])
        return kind

    def args(self, a):
        if not a:
            return ""
        if "angle_bracketed" in a:
            parts = []
            for x in a["angle_bracketed"]["args"]:
                if "type" in x:
                    parts.append(self.ty(x["type"]))
                elif "lifetime" in x:
                    parts.append(x["lifetime"])
                elif "const" in x:
                    parts.append(x["const"].get("expr", "_"))
            for c in a["angle_bracketed"].get("constraints", []):
                binding = c.get("binding", {})
                if "equality" in binding and "type" in binding["equality"]:
                    parts.append(c["name"] + " = " + self.ty(binding["equality"]["type"]))
            return "<" + ", ".join(parts) + ">" if parts else ""
        if "parenthesized" in a:
            p = a["parenthesized"]
            return "(" + ", ".join(self.ty(x) for x in p["inputs"]) + ")" + (
                " -> " + self.ty(p["output"]) if p.get("output") else "")
        return ""

    def bound(self, b):
        if "trait_bound" in b:
            t = b["trait_bound"]["trait"]
            return t["path"].split("::")[-1] + self.args(t.get("args"))
        return b.get("outlives", "?")

    def generics(self, g):
        params = []
        for p in g.get("params", []):
            kind = p["kind"]
            if "type" in kind:
                bounds = " + ".join(self.bound(b) for b in kind["type"].get("bounds", []))
                params.append(p["name"] + (": " + bounds if bounds else ""))
            elif "const" in kind:
                params.append("const " + p["name"] + ": " + self.ty(kind["const"]["type"]))
            elif "lifetime" in kind:
                params.append(p["name"])
        preds = []
        for w in g.get("where_predicates", []):
            if "bound_predicate" in w:
                bp = w["bound_predicate"]
                preds.append(self.ty(bp["type"]) + ": " +
                             " + ".join(self.bound(b) for b in bp["bounds"]))
        return ("<" + ", ".join(params) + ">" if params else ""), (
            " where " + ", ".join(preds) if preds else "")

    def signature(self, name, f):
        sig = f["sig"]
        params, where = self.generics(f["generics"])
        inputs = []
        for arg, t in sig["inputs"]:
            rendered = self.ty(t)
            if arg == "self" and rendered in ("Self", "&Self", "&mut Self"):
                inputs.append(rendered.replace("Self", "self"))
            else:
                inputs.append(arg + ": " + rendered)
        out = " -> " + self.ty(sig["output"]) if sig.get("output") else ""
        header = f.get("header", {})
        prefix = ("const " if header.get("is_const") else "") + (
            "async " if header.get("is_async") else "") + ("unsafe " if header.get("is_unsafe") else "")
        return f"{prefix}fn {name}{params}({', '.join(inputs)}){out}{where}"

    # Items -------------------------------------------------------------------------------
    def walk(self, id_, path, seen):
        item = self.item(id_)
        if item is None or id_ in seen:
            return
        (kind, inner), = item["inner"].items()
        if kind == "module":
            seen = seen | {id_}
            self.lines.add(f"mod {path}")
            for child in inner["items"]:
                c = self.item(child)
                if c is None or c["visibility"] != "public":
                    continue
                (ck, ci), = c["inner"].items()
                if ck == "use":
                    if ci["is_glob"] or ci["id"] is None or self.item(ci["id"]) is None:
                        self.lines.add(f"use {path}::{ci['name']} = {ci['source']}")
                    else:
                        self.walk(ci["id"], f"{path}::{ci['name']}", seen)
                elif ck != "impl":
                    self.walk(child, f"{path}::{c['name']}", seen)
            return
        if kind == "function":
            self.lines.add(f"{path}: {self.signature(item['name'], inner)}")
        elif kind == "struct":
            params, where = self.generics(inner["generics"])
            self.lines.add(f"struct {path}{params}{where}")
            k = inner["kind"]
            if "plain" in k:
                for fid in k["plain"]["fields"]:
                    f = self.item(fid)
                    if f and f["visibility"] == "public":
                        self.lines.add(f"{path}.{f['name']}: {self.ty(f['inner']['struct_field'])}")
                if k["plain"]["has_stripped_fields"]:
                    self.lines.add(f"{path}: has private fields")
            elif "tuple" in k:
                fields = [self.ty(self.item(f)["inner"]["struct_field"]) if f is not None and
                          self.item(f) else "_" for f in k["tuple"]]
                self.lines.add(f"{path}({', '.join(fields)})")
            self.impls(path, inner["impls"])
        elif kind == "enum":
            params, where = self.generics(inner["generics"])
            self.lines.add(f"enum {path}{params}{where}")
            for vid in inner["variants"]:
                v = self.item(vid)
                vk = v["inner"]["variant"]["kind"]
                if vk == "plain":
                    self.lines.add(f"{path}::{v['name']}")
                elif "tuple" in vk:
                    fields = [self.ty(self.item(f)["inner"]["struct_field"]) if f is not None
                              else "_" for f in vk["tuple"]]
                    self.lines.add(f"{path}::{v['name']}({', '.join(fields)})")
                elif "struct" in vk:
                    for fid in vk["struct"]["fields"]:
                        f = self.item(fid)
                        self.lines.add(
                            f"{path}::{v['name']}.{f['name']}: {self.ty(f['inner']['struct_field'])}")
            if any(a == "#[non_exhaustive]" or "non_exhaustive" in str(a) for a in item["attrs"]):
                self.lines.add(f"{path}: non_exhaustive")
            self.impls(path, inner["impls"])
        elif kind == "trait":
            self.lines.add(f"trait {path}")
            for mid in inner["items"]:
                m = self.item(mid)
                if m and "function" in m["inner"]:
                    self.lines.add(f"{path}: {self.signature(m['name'], m['inner']['function'])}")
        elif kind == "constant":
            self.lines.add(f"const {path}: {self.ty(inner['type'])} = {inner['const']['expr']}")
        elif kind == "static":
            self.lines.add(f"static {path}: {self.ty(inner['type'])}")
        elif kind == "type_alias":
            self.lines.add(f"type {path} = {self.ty(inner['type'])}")
        elif kind == "macro":
            self.lines.add(f"macro {path}!")
        else:
            self.lines.add(f"{kind} {path}")

    def impls(self, path, impl_ids):
        for iid in impl_ids:
            imp = self.item(iid)["inner"]["impl"]
            if imp["blanket_impl"] is not None:
                continue  # Into, From<T> for T, Borrow…: they follow from the rest
            if imp["trait"] is None:
                for mid in imp["items"]:
                    m = self.item(mid)
                    if m and m["visibility"] == "public" and "function" in m["inner"]:
                        self.lines.add(
                            f"{path}: {self.signature(m['name'], m['inner']['function'])}")
                    elif m and m["visibility"] == "public" and "assoc_const" in m["inner"]:
                        self.lines.add(f"{path}::{m['name']}: const "
                                       f"{self.ty(m['inner']['assoc_const']['type'])}")
            else:
                trait = imp["trait"]["path"].split("::")[-1] + self.args(imp["trait"].get("args"))
                neg = "!" if imp["is_negative"] else ""
                self.lines.add(f"impl {neg}{trait} for {path}")


def main(argv):
    package, snapshot = argv[0], argv[1]
    bless = "--bless" in argv[2:]
    doc = rustdoc_json(package)
    api = Api(doc)
    api.walk(doc["root"], package.replace("-", "_"), frozenset())
    text = "".join(line + "\n" for line in sorted(api.lines))
    if bless:
        with open(snapshot, "w") as f:
            f.write(text)
        print(f"public-api: wrote {snapshot} ({len(api.lines)} lines)")
        return 0
    try:
        with open(snapshot) as f:
            old = f.read()
    except FileNotFoundError:
        old = ""
    if old == text:
        print(f"public-api: {package} matches {snapshot} ({len(api.lines)} lines)")
        return 0
    sys.stdout.writelines(difflib.unified_diff(
        old.splitlines(True), text.splitlines(True), snapshot, f"{package} now"))
    print(f"\npublic-api: {package}'s public API changed. If that is intended, say so in "
          f"CHANGELOG.md (a removal or a changed signature is a breaking change) and run "
          f"`just api-bless`.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
