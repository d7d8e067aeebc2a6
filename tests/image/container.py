"""The image's roles run with buildah (chroot isolation, the host's network), as pods run them:
each run gets an instance folder of its own (a pod's volume) and /tmp mounted from the host;
everything else is the image's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

#: Where the image keeps its instance folder, and the only other path it may write to.
INSTANCE = "/var/lib/chatdesk"
TMP = "/tmp"
#: What buildah itself puts in a working container's top layer when it runs something.
BUILDAH_OWN = {"run", "tmp", "var", "var/lib", "var/lib/chatdesk", "dev", "proc", "sys", "etc",
               "etc/hosts", "etc/resolv.conf", "etc/hostname", "run/.containerenv"}
IMAGE_UID = 10001


def buildah(*arguments: str, timeout: float = 120) -> str:
    result = subprocess.run(["buildah", *arguments], check=True, capture_output=True, text=True,
                            timeout=timeout)
    return result.stdout.strip()


def image_size(image: str) -> int:
    """Bytes of the image's layers, uncompressed (what `podman images` shows)."""
    inspected = json.loads(subprocess.run(["podman", "image", "inspect", image], check=True,
                                          capture_output=True, text=True).stdout)
    return int(inspected[0]["Size"])


class Container:
    """A working container of the image; its runs' instance folders and /tmp are on the host."""

    def __init__(self, image: str, folder: Path) -> None:
        self.image = image
        self.folder = folder
        self.logs = folder / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.name = buildah("from", "--pull-never", image)
        self._runs = 0

    def _volumes(self) -> list[str]:
        """A fresh instance folder and /tmp, as a new pod gets them."""
        self._runs += 1
        instance, tmp = self.folder / f"instance-{self._runs}", self.folder / f"tmp-{self._runs}"
        instance.mkdir()
        tmp.mkdir()
        os.chown(instance, IMAGE_UID, IMAGE_UID)
        tmp.chmod(0o1777)
        return [f"--volume={instance}:{INSTANCE}", f"--volume={tmp}:{TMP}"]

    def command(self, argv: Sequence[str], env: Mapping[str, str]) -> list[str]:
        settings = [f"--env={name}={value}" for name, value in env.items()]
        return ["buildah", "run", "--isolation=chroot", *self._volumes(), *settings, self.name, "--", *argv]

    def run(self, argv: Sequence[str], env: Mapping[str, str], timeout: float = 600,
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(argv, env), capture_output=True, text=True, timeout=timeout)

    def role(self, role: str, env: Mapping[str, str], timeout: float = 600,
             ) -> subprocess.CompletedProcess[str]:
        """A role through the image's entrypoint, to the end (migrate, demo, train)."""
        return self.run(["/usr/local/bin/chatdesk-entrypoint", role], env, timeout)

    def start(self, role: str, env: Mapping[str, str], log_name: str) -> subprocess.Popen[bytes]:
        """A long-running role (web), in its own process group so that a signal reaches it all."""
        log = (self.logs / log_name).open("wb")
        return subprocess.Popen(self.command(["/usr/local/bin/chatdesk-entrypoint", role], env),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def written_outside(self) -> list[str]:
        """Paths the roles created or changed in the image's own filesystem (not in the mounted
        instance folder or /tmp): the working container's top layer, minus buildah's own."""
        top = Path(buildah("mount", self.name)).parent / "diff"
        changed = sorted(str(path.relative_to(top)) for path in top.rglob("*"))
        return [path for path in changed if path not in BUILDAH_OWN]

    def remove(self) -> None:
        subprocess.run(["buildah", "rm", self.name], capture_output=True, check=False)


def main_process(process: subprocess.Popen[bytes]) -> psutil.Process | None:
    """The role's own first process (what a pod runs as PID 1: the entrypoint exec's into it),
    under buildah's processes."""
    try:
        for child in psutil.Process(process.pid).children(recursive=True):  # parents first
            if any(part.endswith("/bin/chatdesk") for part in child.cmdline()):
                return child
    except psutil.NoSuchProcess:
        pass
    return None


def stop(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    """SIGTERM to the role's main process, as the kubelet sends it; its exit code (buildah
    passes it on), or None when it had to be killed after ``timeout`` seconds."""
    if process.poll() is not None:
        return process.returncode
    main = main_process(process)
    if main is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        return None
    main.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        for child in psutil.Process(process.pid).children(recursive=True):
            child.kill()
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        return None
