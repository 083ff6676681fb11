-- What the departments did with each submission: the closed loop the provider follows.
ALTER TABLE submission ADD COLUMN acknowledgements jsonb NOT NULL DEFAULT '[]';
ALTER TABLE submission ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
