// Integration and harness tests start registries, podman and buildah, and their hooks build
// images and delete container storage: on a 2-core machine running two test files at once a hook
// can take minutes, so they get 5 minutes by default (unit tests keep the config's 60 s).
import { jest } from '@jest/globals'

jest.setTimeout(300_000)
