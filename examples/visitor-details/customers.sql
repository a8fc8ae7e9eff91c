-- The customer database this example looks visitors up in. It is loaded into customers.db
-- the first time the example starts; after that, edit customers.db itself (sqlite3 customers.db).
CREATE TABLE IF NOT EXISTS customers (
    email    TEXT PRIMARY KEY COLLATE NOCASE,
    name     TEXT NOT NULL,
    age      INTEGER NOT NULL,
    position TEXT NOT NULL
);

INSERT OR IGNORE INTO customers (email, name, age, position) VALUES
    ('mary.brown@email.com', 'Mary Brown', 36, 'Head of Sales'),
    ('john.smith@gmail.com', 'John Smith', 41, 'CTO'),
    ('ada@example.com',      'Ada Lovelace', 28, 'Analytical Engineer');
