DROP TABLE node_channel_stock;
