"""What a commit's image is labelled with: never its helper container's owner."""

from __future__ import annotations

from cjm_docker import labels
from cjm_docker.engine import committed_labels

HELPER = {labels.MANAGED: "true", labels.ROLE: labels.ROLE_COMMIT, labels.OWNER_PID: "4242",
          labels.OWNER_HOST: "vm", labels.SESSION: "abcd1234"}


def test_the_helpers_owner_and_session_are_blanked():
    image = committed_labels({labels.MANAGED: "true", labels.ROLE: labels.ROLE_PLUGIN},
                             HELPER, {})
    assert image[labels.ROLE] == labels.ROLE_PLUGIN
    assert image[labels.OWNER_PID] == image[labels.OWNER_HOST] == image[labels.SESSION] == ""


def test_a_label_of_the_source_image_is_kept_not_the_helpers():
    image = committed_labels({labels.SPEC_HASH: "0" * 64}, HELPER,
                             {labels.MANAGED: "true", labels.ROLE: labels.ROLE_PLUGIN})
    assert image[labels.MANAGED] == "true" and image[labels.ROLE] == labels.ROLE_PLUGIN
    assert image[labels.SPEC_HASH] == "0" * 64 and image[labels.OWNER_PID] == ""
