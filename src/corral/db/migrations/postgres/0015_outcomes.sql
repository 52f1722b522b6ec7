-- Outcomes (api.md §16): `outcomes` is the projection of the session's outcome events, the JSON list the session
-- shows as `outcome_evaluations` (one entry per `user.define_outcome`, kept current by every append).
ALTER TABLE sessions ADD COLUMN outcomes TEXT NOT NULL DEFAULT '[]';
