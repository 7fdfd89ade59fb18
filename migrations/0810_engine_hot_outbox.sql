-- The outbox row of an attempt is written when the attempt starts and updated with each of
-- its moves (status, outcome, updated_at, ended_at: no indexed column). With pages packed
-- full, each update put the new row version on another page and added an entry to every
-- index of `deliveries`; with room left on the page the update is HOT (the same page, no
-- index entry). Half of each new page is kept free for the versions of its rows' updates
-- (an SMS is updated once, a call twice; a later move finds the space of an earlier
-- version pruned).
ALTER TABLE deliveries SET (fillfactor = 50);
