--
-- PostgreSQL database dump
--

\restrict pgcontractfixture

-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: customers; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.customers (
    id bigint NOT NULL,
    email text NOT NULL,
    legacy_phone text,
    name text
);


ALTER TABLE public.customers OWNER TO postgres;

--
-- Name: customer_directory; Type: VIEW; Schema: public; Owner: postgres
--

CREATE VIEW public.customer_directory AS
 SELECT customers.id,
    customers.name,
    customers.legacy_phone
   FROM public.customers;


ALTER TABLE public.customer_directory OWNER TO postgres;

--
-- Name: invoices; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.invoices (
    id bigint NOT NULL,
    customer_id bigint,
    amount numeric(12,2),
    legacy_ref text
);


ALTER TABLE public.invoices OWNER TO postgres;

--
-- Name: customers customers_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.customers
    ADD CONSTRAINT customers_pkey PRIMARY KEY (id);


--
-- Name: invoices invoices_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.invoices
    ADD CONSTRAINT invoices_pkey PRIMARY KEY (id);


--
-- Name: invoices invoices_customer_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.invoices
    ADD CONSTRAINT invoices_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES public.customers(id);


--
-- Name: TABLE customers; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT ON TABLE public.customers TO web;
GRANT SELECT ON TABLE public.customers TO analytics;
GRANT SELECT,UPDATE ON TABLE public.customers TO "legacy-cron";


--
-- Name: TABLE customer_directory; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT ON TABLE public.customer_directory TO support;


--
-- Name: TABLE invoices; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT ON TABLE public.invoices TO web;
GRANT SELECT,UPDATE ON TABLE public.invoices TO billing;
GRANT SELECT ON TABLE public.invoices TO analytics;


--
-- PostgreSQL database dump complete
--

\unrestrict pgcontractfixture

