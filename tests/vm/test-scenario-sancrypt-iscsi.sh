#!/bin/bash
# test-scenario-sancrypt-iscsi.sh: the reference's SAN scenario (test-scenario-sancrypt.sh)
# word for word on an iSCSI LUN of the lab's SAN (lab_iscsi_disk), as the reference's
# SAN is an iSCSI disk, instead of a virtio disk. Exit status as that test's.
SANCRYPT_DISK=iscsi exec bash "$(dirname "$0")/test-scenario-sancrypt.sh" "$@"
