# The default workload image that `kubectl kas build` builds from the
# repository root: a CUDA runtime, Python, Ray with its dashboard,
# JupyterLab, TensorBoard, screen, kubectl, and the project installed.
#
# `kubectl kas` treats the parent of the final WORKDIR as the container's
# home: the SSH folder, ~/.gitconfig and the history files are mounted there,
# and TensorBoard reads HOME/ray_results. JupyterLab runs as root
# (`--allow-root`), so the home is /root.
#
# Every version is a build argument: `kubectl kas build --build-arg RAY_VERSION=...`.
ARG CUDA_IMAGE=nvidia/cuda:12.9.1-cudnn-runtime-ubuntu24.04
FROM ${CUDA_IMAGE}

# A Python the base image's Ubuntu ships (24.04: 3.12).
ARG PYTHON_VERSION=3.12
ARG RAY_VERSION=2.60.0
ARG KUBECTL_VERSION=v1.35.2

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      "python${PYTHON_VERSION}" "python${PYTHON_VERSION}-venv" \
      screen git openssh-client curl ca-certificates less rsync tini \
 && rm -rf /var/lib/apt/lists/*

# kubectl, for `kubectl kas` and `kubectl ray` from inside the container.
RUN curl -fsSLo /usr/local/bin/kubectl \
      "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/$(dpkg --print-architecture)/kubectl" \
 && chmod 755 /usr/local/bin/kubectl \
 && kubectl version --client

# The tools, in a virtual environment that is first on PATH.
RUN "python${PYTHON_VERSION}" -m venv "$VIRTUAL_ENV" \
 && pip install --upgrade pip \
 && pip install "ray[default,tune]==${RAY_VERSION}" jupyterlab tensorboard

# The project itself (see .dockerignore for what stays out).
WORKDIR /root/project
COPY . .
RUN if [ -f pyproject.toml ] || [ -f setup.py ]; then pip install .; fi \
 && mkdir -p /root/ray_results

# Ray dashboard, TensorBoard, JupyterLab.
EXPOSE 8265 6006 8888
ENTRYPOINT ["tini", "--"]
CMD ["bash"]
