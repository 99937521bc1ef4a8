-- A summary of where each profile sends, so a list need not decode every document.
ALTER TABLE profiles ADD COLUMN target TEXT NOT NULL DEFAULT '';
