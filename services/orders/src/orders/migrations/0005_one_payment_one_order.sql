-- One payment backs one order (DESIGN.md section 4, invariant 3). A payment is (method, transaction id), whichever
-- channel names it: a provider's transaction is one payment however many partners present it (a shop that takes
-- Alipay and the Alipay channel name the same trade). The unique index below is what decides, inside the
-- statement that writes the order, so two requests racing with one payment make one order whatever the replicas.
--
-- payment_part numbers the orders a payment backs: 0 for the one order of an ordinary payment. A payment split
-- on purpose (a family recharge, DESIGN.md section 8: one payment, one order per member) will be declared with
-- its total and its members, and its orders will take the parts 0, 1, 2... of it, all written in the one
-- transaction that declares the split: a payment is then used once whole (part 0) or once as a declared split
-- (parts 0..n-1), never both, never twice, with no change to this rule. What each member's refund may take is
-- the refund service's business (its ledger per payment never pays back more than was paid).
--
-- NULL: the order is not subject to the rule. Voucher orders (their card is the payment, and a card given back
-- after a failure may be redeemed again), and orders that shared a payment before this rule existed: the first
-- of them (oldest) holds the payment, the later ones keep their NULL (history is not rewritten; their refunds
-- are capped by the refund service's ledger).
ALTER TABLE orders ADD COLUMN payment_part smallint DEFAULT 0 CHECK (payment_part >= 0);

UPDATE orders SET payment_part = NULL
WHERE payment_method = 'voucher'
   OR order_id NOT IN (SELECT DISTINCT ON (payment_method, payment_transaction_id) order_id
                       FROM orders WHERE payment_method <> 'voucher'
                       ORDER BY payment_method, payment_transaction_id, created_at, order_id);

CREATE UNIQUE INDEX orders_one_order_per_payment_part
    ON orders (payment_method, payment_transaction_id, payment_part);
