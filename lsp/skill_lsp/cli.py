"""`skill-lsp serve | check | route | eval | rules | mcp`: argument parsing and exit codes only."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import __version__


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors exit 2, as argparse does, with our prefix
        self.print_usage(sys.stderr)
        self.exit(2, f"skill-lsp: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="skill-lsp", description="Language server, linter and router for agent skill trees.")
    p.add_argument("--version", action="version", version=f"skill-lsp {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    c = sub.add_parser("check", help="lint skill trees")
    c.add_argument("paths", nargs="+", metavar="PATH")
    c.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    c.add_argument("--watch", action="store_true", help="re-lint on every change, print what changed")

    r = sub.add_parser("rules", help="list every rule, or explain one")
    r.add_argument("code", nargs="?")
    r.add_argument("--markdown", action="store_true", help="print the rules reference as Markdown")

    s = sub.add_parser("serve", help="run the language server (stdio by default)")
    s.add_argument("--stdio", action="store_true", help="serve over stdio (the default)")
    s.add_argument("--tcp", action="store_true", help="serve over TCP (loopback only)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=2087)
    s.add_argument("--log-file", default=None)
    s.add_argument("--max-message-bytes", type=int, default=64 << 20, metavar="N",
                   help="a JSON-RPC message longer than this is skipped unread and refused (default 64 MiB)")
    s.add_argument("--warm-router", choices=("auto", "always", "never"), default="auto",
                   help="build the router (in the background) right after indexing, so that the first "
                        "route is as quick as the next: auto (trees up to 5,000 documents: a bigger one's "
                        "costs seconds of CPU and 100 MB an editor alone never needs), always (agents, who "
                        "route more than they type), never (on the first route)")

    q = sub.add_parser("route", help="rank the skills and sheets for a task")
    q.add_argument("query")
    q.add_argument("--root", action="append", required=True)
    q.add_argument("--limit", type=int, default=5)
    q.add_argument("--json", action="store_true")

    e = sub.add_parser("eval", help="routing accuracy over a JSONL query set")
    e.add_argument("queries", nargs="+")
    e.add_argument("--root", action="append", required=True)
    e.add_argument("--decoys", type=int, default=0, help="bury the root among N generated decoy skills")
    e.add_argument("--json", action="store_true")

    m = sub.add_parser("mcp", help="serve the agent tools over MCP (stdio)")
    m.add_argument("--root", action="append", default=None)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "check":
            from .check_cmd import run_check, run_watch

            return run_watch(args) if args.watch else run_check(args)
        if args.command == "rules":
            from .report import rule_doc, rules_markdown, rules_table

            if args.markdown:
                sys.stdout.write(rules_markdown())
            elif args.code:
                text = rule_doc(args.code)
                if text is None:
                    print(f"skill-lsp: no rule {args.code}", file=sys.stderr)
                    return 2
                print(text)
            else:
                print(rules_table())
            return 0
        if args.command == "serve":
            from .server import serve

            return serve(args)
        if args.command in ("route", "eval"):
            from . import route_cmd

            return route_cmd.run_route(args) if args.command == "route" else route_cmd.run_eval(args)
        if args.command == "mcp":
            from .mcp_server import serve_mcp

            return serve_mcp(args.root or [os.getcwd()])
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
