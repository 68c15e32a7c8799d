"""What the evaluation scripts share: running the legseg binary, and the arguments that choose it and its models."""
import argparse, subprocess, sys


def parser(description, work):
    """An argument parser with --legseg (the binary), --models (default: the bundled networks) and --work."""
    a = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--legseg", default=".build/release/legseg")
    a.add_argument("--models")
    a.add_argument("--work", default=work)
    return a


def models(args):
    """The `--models DIR` arguments for `legseg segment`, or none for the bundled networks."""
    return ["--models", args.models] if args.models else []


def run(cmd):
    """Runs a command; on failure exits naming it, with its stderr. Returns its stdout."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr}")
    return p.stdout
