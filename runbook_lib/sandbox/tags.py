"""The sandbox's release tags, shared by the workspace builder and the artifact builders."""

STABLE_TAG = "v1.0"
RELEASE_TAG = "v2.0"
