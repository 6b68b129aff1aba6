-- +goose Up

-- Equipment at a customer's site, known by a short code printed as a QR code on a label. Scanning
-- it opens the portal pre-filled with the device, so the customer reports a fault without typing
-- what the equipment is. Codes avoid characters read one for another (0/O, 1/I).
CREATE TABLE devices (
    code       text PRIMARY KEY,
    account    text NOT NULL,
    category   text NOT NULL DEFAULT '',
    model      text NOT NULL DEFAULT '',
    serial     text NOT NULL DEFAULT '',
    contact_id uuid REFERENCES contacts (id),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_account ON devices (account);

-- One-time sign-in codes of the customer portal, one live code per email address: asking again
-- replaces the code. Only the code's hash is kept; wrong attempts are counted to lock the code.
CREATE TABLE portal_codes (
    email      text PRIMARY KEY,
    code_hash  bytea NOT NULL,
    expires_at timestamptz NOT NULL,
    attempts   integer NOT NULL DEFAULT 0,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE portal_codes;
DROP TABLE devices;
