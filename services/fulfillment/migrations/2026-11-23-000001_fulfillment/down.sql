DROP TABLE fulfillments; DROP TABLE node_stock; DROP TABLE nodes;
