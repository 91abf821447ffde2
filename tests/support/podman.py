"""A real Docker-API engine for tests and benchmarks: podman's API service on a unix socket.

The recipe: three config files in a private directory (runc, cgroupfs,
no network, no registry), a busybox image built from the host's static busybox, and the
service stopped by its own PID. `scripts/setup --test` installs podman, runc and busybox.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tarfile
import time
from pathlib import Path

IMAGE = "localhost/busybox:local"
BUSYBOX = "/bin/busybox"

CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
netns = "none"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""

REGISTRIES_CONF = """\
unqualified-search-registries = []
short-name-mode = "enforcing"
[[registry]]
location = "docker.io"
blocked = true
"""


def missing() -> str | None:
    """Why this machine cannot run the engine, or None."""
    for tool in ("podman", "runc"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (run scripts/setup --test)"
    if not Path(BUSYBOX).exists():
        return "busybox-static is not installed (run scripts/setup --test)"
    return None


class Podman:
    """Config files, the API service and the busybox image under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sock = root / "podman.sock"
        self.url = f"unix://{self.sock}"
        self.proc: subprocess.Popen[bytes] | None = None
        root.mkdir(parents=True, exist_ok=True)
        (root / "containers.conf").write_text(CONTAINERS_CONF)
        (root / "storage.conf").write_text(
            f'[storage]\ndriver = "overlay"\ngraphroot = "{root}/root"\nrunroot = "{root}/run"\n'
        )
        (root / "registries.conf").write_text(REGISTRIES_CONF)
        self.env = {
            **os.environ,
            "CONTAINERS_CONF": str(root / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(root / "storage.conf"),
            "CONTAINERS_REGISTRIES_CONF": str(root / "registries.conf"),
        }

    def podman(self, *args: str, timeout: float = 60) -> str:
        done = subprocess.run(
            ["podman", *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def import_busybox(self) -> None:
        """The image without a registry: a rootfs of busybox and its applet links."""
        if IMAGE.split("/", 1)[1] in self.podman("images", "--format", "{{.Repository}}:{{.Tag}}"):
            return
        rootfs = self.root / "rootfs"
        for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "root"):
            (rootfs / d).mkdir(parents=True, exist_ok=True)
        shutil.copy(BUSYBOX, rootfs / "bin" / "busybox")
        applets = subprocess.run(
            [BUSYBOX, "--list"], capture_output=True, text=True, check=True
        ).stdout.split()
        for name in applets:
            link = rootfs / "bin" / name
            if name != "busybox" and not link.exists():
                link.symlink_to("busybox")
        (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        (rootfs / "etc" / "group").write_text("root:x:0:\n")
        tar = self.root / "rootfs.tar"
        with tarfile.open(tar, "w") as t:
            t.add(rootfs, arcname=".")
        self.podman("import", "--change", 'CMD ["/bin/sh"]', str(tar), IMAGE, timeout=120)

    def start(self, timeout: float = 30) -> None:
        """Start the API service and wait until its socket answers a ping."""
        if self.proc is not None and self.proc.poll() is None:
            return
        self.sock.unlink(missing_ok=True)
        log = (self.root / "service.log").open("ab")
        self.proc = subprocess.Popen(
            ["podman", "system", "service", "--time=0", self.url],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"podman service exited: {self.log_tail()}")
            if self._ping():
                return
            time.sleep(0.1)
        raise RuntimeError(f"podman service not answering after {timeout} s: {self.log_tail()}")

    def _ping(self) -> bool:
        import socket

        if not self.sock.exists():
            return False
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                s.connect(str(self.sock))
                s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
                return b"200" in s.recv(64)
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the service by its PID (its containers keep running, as with dockerd)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        self.sock.unlink(missing_ok=True)

    def unmount(self) -> None:
        """Undo the storage driver's own mounts under the root, so the directory can go."""
        mounts = Path("/proc/mounts").read_text().splitlines()
        for target in sorted(
            {m.split()[1] for m in mounts if m.split()[1].startswith(str(self.root))}, reverse=True
        ):
            subprocess.run(["umount", "-l", target], capture_output=True, check=False)

    def remove_all(self) -> None:
        """Remove every container (used at the end of a session)."""
        ids = self.podman("ps", "-aq").split()
        if ids:
            self.podman("rm", "-f", "-t", "0", *ids, timeout=120)

    def log_tail(self, limit: int = 1500) -> str:
        path = self.root / "service.log"
        return path.read_text(errors="replace")[-limit:] if path.exists() else ""
