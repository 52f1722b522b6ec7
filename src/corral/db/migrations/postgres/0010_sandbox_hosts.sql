-- Sandbox hosts (corral.hosts): the `corral sandbox-host` processes of a deployment and where each session's
-- sandbox is placed.
-- * `sandbox_hosts`: one row per host (its id is kept in the host's data dir, so a restart keeps it), the URL
--   workers reach it at, the capacity and use it reports, its warm sandboxes, and a lease (epoch seconds) it renews;
--   a host whose lease expired is dead to placement.
-- * `sandbox_placements`: the host a session's sandbox lives on; one row per session (the primary key makes
--   one placement win a race), moved only by compare-and-set from a host known dead or unreachable.
CREATE TABLE sandbox_hosts (
    id TEXT COLLATE "C" PRIMARY KEY,
    url TEXT NOT NULL,
    capacity INTEGER NOT NULL,
    in_use INTEGER NOT NULL DEFAULT 0,
    warm INTEGER NOT NULL DEFAULT 0,
    lease_expires DOUBLE PRECISION NOT NULL,
    registered_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE sandbox_placements (
    session_id TEXT COLLATE "C" PRIMARY KEY,
    host_id TEXT NOT NULL,
    placed_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX sandbox_placements_by_host ON sandbox_placements (host_id)
