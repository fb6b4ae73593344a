-- The catalog: the eight call-credit face values (500 yuan is Unicom's maximum per order), data packs,
-- a combo, and broadband credit. list_price_fen is the reference price; channels price from their lists.
INSERT INTO products (sku, kind, name, account_type, face_value_fen, data_mb, validity_days, pack_code, list_price_fen) VALUES
    ('CREDIT_10',  'call_credit', '话费 10 元',  'mobile', 1000,  0, 0, NULL, 1000),
    ('CREDIT_20',  'call_credit', '话费 20 元',  'mobile', 2000,  0, 0, NULL, 2000),
    ('CREDIT_30',  'call_credit', '话费 30 元',  'mobile', 3000,  0, 0, NULL, 3000),
    ('CREDIT_50',  'call_credit', '话费 50 元',  'mobile', 5000,  0, 0, NULL, 5000),
    ('CREDIT_100', 'call_credit', '话费 100 元', 'mobile', 10000, 0, 0, NULL, 10000),
    ('CREDIT_200', 'call_credit', '话费 200 元', 'mobile', 20000, 0, 0, NULL, 20000),
    ('CREDIT_300', 'call_credit', '话费 300 元', 'mobile', 30000, 0, 0, NULL, 30000),
    ('CREDIT_500', 'call_credit', '话费 500 元', 'mobile', 50000, 0, 0, NULL, 50000),
    ('DATA_1GB_7D',   'data_pack', '流量 1GB 7天',   'mobile', 0, 1024,  7,  'DP_1G_7D',   1000),
    ('DATA_5GB_30D',  'data_pack', '流量 5GB 30天',  'mobile', 0, 5120,  30, 'DP_5G_30D',  3000),
    ('DATA_10GB_30D', 'data_pack', '流量 10GB 30天', 'mobile', 0, 10240, 30, 'DP_10G_30D', 5000),
    ('COMBO_50_5GB',  'combo',     '话费 50 元 + 流量 5GB 30天', 'mobile', 5000, 5120, 30, 'DP_5G_30D', 7800),
    ('BROADBAND_50',  'broadband_credit', '宽带 50 元',  'broadband', 5000,  0, 0, NULL, 5000),
    ('BROADBAND_100', 'broadband_credit', '宽带 100 元', 'broadband', 10000, 0, 0, NULL, 10000),
    ('BROADBAND_200', 'broadband_credit', '宽带 200 元', 'broadband', 20000, 0, 0, NULL, 20000),
    ('BROADBAND_500', 'broadband_credit', '宽带 500 元', 'broadband', 50000, 0, 0, NULL, 50000);

-- Number segments (号段) by the carrier that issued them. MVNO segments (170, 171, 162, 165, 167) are not
-- ours to recharge and are left out: they are "not served".
INSERT INTO carrier_segments (segment, carrier)
SELECT s, 'unicom' FROM unnest(ARRAY['130','131','132','145','146','155','156','166','175','176','185','186','196']) AS s
UNION ALL
SELECT s, 'china_mobile' FROM unnest(ARRAY['134','135','136','137','138','139','147','148','150','151','152','157',
                                             '158','159','172','178','182','183','184','187','188','195','197','198']) AS s
UNION ALL
SELECT s, 'china_telecom' FROM unnest(ARRAY['133','149','153','173','174','177','180','181','189','190','191','193','199']) AS s
UNION ALL
SELECT s, 'china_broadnet' FROM unnest(ARRAY['192']) AS s
UNION ALL
-- Broadband: the area codes where Unicom is the fixed-line operator we recharge.
SELECT 'bb:' || s, 'unicom' FROM unnest(ARRAY['010','022','024','0311','0351','0371','0411','0431','0451','0531','0532']) AS s;
