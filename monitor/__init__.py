"""The `footpod-monitor` command and the local stack: the top floor, over the kernel and every stage."""
