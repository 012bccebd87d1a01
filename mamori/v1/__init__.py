"""Generated protobuf and gRPC code for package mamori.v1 (regenerate with proto/generate.py)."""
